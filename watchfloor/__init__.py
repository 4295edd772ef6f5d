"""The top layer: the `watchfloor` command, the web console, the quick start and the operator
tools (rules check/test/eval/backtest). It drives the stages; nothing below imports it.

The pipeline lives in the stage packages, in the order a headline travels:
feeds -> ``ingest`` -> raw topic -> ``processors`` (with ``rules``) -> classified topics ->
``alerting`` -> alerts topic -> ``notifiers`` -> channels; ``core`` is the ground under them.
"""

__version__ = "0.1.0"
