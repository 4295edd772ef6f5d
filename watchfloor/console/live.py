"""What the console shows, kept current from Kafka: recent categorised headlines, recent alerts,
the recent events (each at its latest state), per-category counts per hour, and the silences. One follower per console process; every browser
tab subscribes to its updates (server-sent events).

It reads with a consumer without a group (commits nothing, slows nobody) from `hours` back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, deque
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from core.kafka import make_consumer, topic_partitions
from core.settings import Settings
from core.topics import Topics, ensure_topics
from watchfloor.console.places import clean_places

log = logging.getLogger("watchfloor.console")

KEEP = 200  # headlines, alerts and events kept for a page load
HOUR = 3600
SEVERITIES = ("info", "low", "medium", "high", "critical")


def brief_headline(doc: dict) -> dict | None:
    """The fields the page shows; None for a headline without a category (not news for the floor)."""
    cats = doc.get("categories") or []
    if not cats:
        return None
    return {"id": doc.get("id"), "title": str(doc.get("title", ""))[:500], "source": str(doc.get("source", ""))[:200],
            "link": _link(doc.get("link")), "categories": [c.get("id") for c in cats],
            "severity": max((c.get("severity", "info") for c in cats), key=_rank),
            "time": doc.get("classified") or doc.get("fetched"), "places": clean_places(doc.get("places"))}


def brief_alert(doc: dict) -> dict:
    """The fields the page shows of an alert; `places` (checked) put it on the map."""
    return {"id": doc.get("id"), "rule": doc.get("rule_id"), "title": str(doc.get("title", ""))[:500],
            "severity": doc.get("severity"), "sources": doc.get("source_count"), "categories": doc.get("categories", []),
            "links": [_link(r.get("link")) for r in (doc.get("reports") or [])[:5] if _link(r.get("link"))],
            "time": doc.get("fired"), "places": clean_places(doc.get("places"))}


def brief_event(doc: dict) -> dict | None:
    """An event's state as a card and a marker need it: feed text capped, numbers checked, and
    `alerted`/`updates` from its alert ids. None without an id or a readable `last_seen`: it could
    be neither replaced in place nor placed in the window."""
    event_id, last_seen = doc.get("id"), _iso(doc.get("last_seen"))
    if not isinstance(event_id, str) or not event_id or last_seen is None or _epoch(last_seen) == 0.0:
        return None
    title = str(doc.get("title", ""))[:500]
    reports = [r for r in _list(doc.get("reports"))[:50] if isinstance(r, dict)]
    # the title is its earliest English report's: that report's link first, else the first link
    links = [_link(r.get("link")) for r in reports if r.get("title") == title] + [_link(r.get("link")) for r in reports]
    casualties = doc.get("casualties") if isinstance(doc.get("casualties"), dict) else {}
    toll = {k: n for k in ("killed", "injured") if (n := _count(casualties.get(k))) is not None}
    alerts = _list(doc.get("alerts"))
    severity = doc.get("severity")
    return {"id": event_id[:100], "title": title, "link": next((x for x in links if x), None),
            "categories": _texts(doc.get("categories"), 10, 100), "severity": severity if severity in SEVERITIES else "info",
            "places": clean_places(doc.get("places")), "sources": _count(doc.get("source_count")) or 0,
            "languages": _texts(doc.get("languages"), 10, 10), "reports": _count(doc.get("report_count")) or 0,
            "casualties": toll or None, "alerted": bool(alerts), "updates": max(0, len(alerts) - 1),
            "first_seen": _iso(doc.get("first_seen")), "last_seen": last_seen, "updated": _iso(doc.get("updated")),
            # the window is the service's clock, as for headlines (classified) and alerts (fired)
            "time": _iso(doc.get("updated")) or last_seen, "merged": _texts(doc.get("merged"), 50, 100)}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _texts(value: Any, most: int, cap: int) -> list[str]:
    return [v[:cap] for v in _list(value)[:most] if isinstance(v, str)]


def _iso(value: Any) -> str | None:
    return value[:40] if isinstance(value, str) else None


def _link(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def _rank(severity: str) -> int:
    order = ("info", "low", "medium", "high", "critical")
    return order.index(severity) if severity in order else 0


class LiveView:
    def __init__(self, hours: int = 24) -> None:
        self.hours = hours
        self.headlines: deque[dict] = deque(maxlen=KEEP)
        self.alerts: deque[dict] = deque(maxlen=KEEP)
        self.events: dict[str, dict] = {}  # event id -> its latest state (a compacted topic: versions replace)
        self.merged: deque[str] = deque(maxlen=4 * KEEP)  # ids merged into another: a late state of one is not shown
        self.counts: dict[int, Counter] = {}  # hour (epoch s) -> category -> headlines
        self.silences: dict[str, dict] = {}
        self._subscribers: set[asyncio.Queue] = set()
        self.connected = False

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def _publish(self, kind: str, item: dict) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait((kind, item))
            except asyncio.QueueFull:  # a tab that stopped reading: it reloads and gets the state again
                self._subscribers.discard(queue)

    def add(self, topic_kind: str, doc: dict, timestamp_ms: int) -> None:
        if topic_kind == "classified":
            hour = timestamp_ms // 1000 // HOUR * HOUR
            bucket = self.counts.setdefault(hour, Counter())
            for c in doc.get("categories") or []:
                bucket[c.get("id")] += 1
            item = brief_headline(doc)
            if item:
                self.headlines.append(item)
                self._publish("headline", item)
        elif topic_kind == "alerts":
            item = brief_alert(doc)
            self.alerts.append(item)
            self._publish("alert", item)
        elif topic_kind == "events":
            item = brief_event(doc)
            if item is None or _epoch(item["time"]) < time.time() - self.hours * HOUR:
                return
            if item["id"] in self.merged:
                return  # an older state of an event since merged (its partition was read late)
            for gone in item["merged"]:  # merged into this one: its card and marker go
                self.events.pop(gone, None)
                self.merged.append(gone)
            self.events[item["id"]] = item
            if len(self.events) > 2 * KEEP:  # trimmed now and then, not on every message
                self.events = {e["id"]: e for e in self.recent_events()}
            self._publish("event", item)
        elif topic_kind == "silences":
            self.silences[doc["id"]] = doc
            self._publish("silences", {"silences": self.active_silences()})

    def active_silences(self) -> list[dict]:
        now = time.time()
        out = [s for s in self.silences.values() if _epoch(s.get("expires")) > now]
        return sorted(out, key=lambda s: s.get("created") or "")

    def recent_events(self) -> list[dict]:
        """The newest `KEEP` by `last_seen` (newest first) of those the alert stage wrote within the
        window (`updated`, its clock): an event that grew today is today's news to the floor,
        though its reports were published days ago (a feed's backlog, the quick start's samples)."""
        oldest = time.time() - self.hours * HOUR
        recent = [e for e in self.events.values() if _epoch(e["time"]) >= oldest]
        return sorted(recent, key=lambda e: _epoch(e["last_seen"]), reverse=True)[:KEEP]

    def chart(self) -> dict:
        """Counts per category for each of the last `hours` hours, oldest first."""
        now_hour = int(time.time()) // HOUR * HOUR
        hours = [now_hour - HOUR * i for i in range(self.hours - 1, -1, -1)]
        for old in [h for h in self.counts if h < hours[0]]:
            del self.counts[old]
        categories = sorted({c for bucket in self.counts.values() for c in bucket})
        return {"hours": hours, "categories": {c: [self.counts.get(h, Counter())[c] for h in hours] for c in categories}}

    def state(self) -> dict:
        return {"headlines": list(self.headlines)[::-1], "alerts": list(self.alerts)[::-1],
                "events": self.recent_events(), "chart": self.chart(),
                "silences": self.active_silences(), "connected": self.connected}


def _epoch(value: Any) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return 0.0


async def follow(settings: Settings, view: LiveView, stop: asyncio.Event) -> None:
    """Reads the classified, alerts, events and silences topics into `view` until `stop`; reconnects."""
    topics = Topics(settings.topic_prefix)
    kinds = {topics.classified: "classified", topics.alerts: "alerts", topics.events: "events",
             topics.silences: "silences"}
    while not stop.is_set():
        consumer = make_consumer(settings, group_id=None)
        try:
            await ensure_topics(settings, [s for s in topics.specs() if s.name in kinds])
            await consumer.start()
            tps = []
            for topic in kinds:
                parts = await topic_partitions(settings, consumer, topic)
                tps += [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            since = int((time.time() - view.hours * HOUR) * 1000)
            history = [tp for tp in tps if tp.topic != topics.silences]
            found = await consumer.offsets_for_times({tp: since for tp in history})
            end = await consumer.end_offsets(history)
            for tp in history:
                consumer.seek(tp, found[tp].offset if found.get(tp) else end[tp])
            await consumer.seek_to_beginning(*[tp for tp in tps if tp.topic == topics.silences])
            view.connected = True
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for r in records:
                        if r.value is None:
                            continue
                        try:
                            doc = json.loads(r.value)
                        except ValueError:
                            continue
                        if isinstance(doc, dict):
                            view.add(kinds[tp.topic], doc, r.timestamp)
        except Exception as exc:  # noqa: BLE001  an unexpected failure must not stop the console following
            view.connected = False
            if isinstance(exc, (KafkaError, OSError)):
                log.warning("console lost Kafka; retrying", extra={"error": str(exc)[:200]})
            else:
                log.exception("console follower failed; retrying with a new consumer", extra={"error": str(exc)[:200]})
            try:
                await asyncio.wait_for(stop.wait(), 3)
            except TimeoutError:
                pass
        finally:
            view.connected = False
            await consumer.stop()
