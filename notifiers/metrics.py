"""Prometheus metrics of the notifiers stage. Labelled by Apprise tag, never by channel URL:
URLs hold secrets, and tags are the operator's own bounded vocabulary."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DELIVERIES = Counter(
    "watchfloor_notify_deliveries_total",
    "Channel deliveries by tag and result: ok (sent), retried (an attempt failed, another follows), dead (gave up)",
    ["tag", "result"],
)
DUPLICATES_SKIPPED = Counter(
    "watchfloor_notify_duplicates_skipped_total",
    "Channel sends skipped because the delivery log shows the alert already reached the channel",
    ["tag"],
)
INVALID_MESSAGES = Counter("watchfloor_notify_invalid_messages_total", "Messages on the alerts topic that are not alert/1 documents")
ALERTS_IN_FLIGHT = Gauge("watchfloor_notify_alerts_in_flight", "Alerts being delivered (consumed, offset not yet committable)")
