"""Prometheus metrics shared by the stages (served by every long-running command)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RULE_RELOADS = Counter("watchfloor_rule_reloads_total", "Rule set reloads", ["result"])
RULES_LOADED = Gauge("watchfloor_rules_loaded", "Category rules in force")
RULE_FILES_VALID = Gauge("watchfloor_rule_files_valid", "1 when the rule files on disk load; 0 while an edit is refused and the last good rules stay in force")
HEADLINES_CLASSIFIED = Counter("watchfloor_headlines_classified_total", "Headlines classified")
HEADLINES_DUPLICATE = Counter("watchfloor_headlines_duplicate_total", "Headlines dropped as already processed")
CATEGORY_MATCHES = Counter("watchfloor_category_matches_total", "Headlines per category", ["category"])
CLASSIFY_SECONDS = Histogram("watchfloor_classify_seconds", "Time to classify one headline",
                             buckets=(1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2))
ALERTS_FIRED = Counter("watchfloor_alerts_fired_total", "Alerts fired", ["rule"])
FOLLOW_UPS = Counter("watchfloor_follow_ups_total", "Follow-up reports (rules' follow_up categories): joined an open "
                     "event, or dropped with none open at their place", ["result"])
ALERTS_SUPPRESSED = Counter("watchfloor_alerts_suppressed_total", "Alerts held back", ["rule", "reason"])
FEEDS_POLLED = Counter("watchfloor_feeds_polled_total", "Feed polls by outcome (ok, not-modified, failed, unreadable)", ["feed", "status"])
HEADLINES_INGESTED = Counter("watchfloor_headlines_ingested_total", "New headlines published to the raw topic", ["feed"])
CONSUMER_LAG = Gauge("watchfloor_consumer_lag", "Messages not yet processed by a consumer group", ["group", "topic"])
END_TO_END = Histogram("watchfloor_end_to_end_seconds", "Feed fetch to alert delivered to a channel",
                       buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
