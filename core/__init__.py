"""The bottom layer every stage stands on: settings, message contracts, topics, Kafka helpers.

It imports no stage and no command. The stages, in the order a headline travels:
feeds -> ``ingest`` -> raw topic -> ``processors`` (with ``rules``) -> classified topics ->
``alerting`` -> alerts topic -> ``notifiers`` -> channels. The ``watchfloor`` package (CLI,
console, quick start, operator tools) sits on top of them all.
"""
