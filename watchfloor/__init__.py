"""Watchfloor hub: settings, message contracts, topics, the embedded broker and the CLI.

The pipeline itself lives in the stage packages, in the order a headline travels:
feeds -> ``ingest`` -> raw topic -> ``processors`` (with ``rules``) -> classified topics
-> alert rules -> ``notifiers`` -> channels.
"""

__version__ = "0.1.0"
