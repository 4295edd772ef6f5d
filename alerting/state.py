"""What alert rules remember between reports, as plain data with indexes, and its changelog form.

The live stage keeps it in a compacted topic (one entry per event and per throttle, keyed as
below) and rebuilds it with `AlertState.load` after a restart; the backtest keeps one in memory.
Nothing here knows Kafka: the engine (alerting/engine.py) returns the entries a step changed.

Keys: "event\\x1f\\x1f<event id>" -> the event as JSON (alerting/engine.py, `new_event`);
      "throttle\\x1f<rule id>\\x1f<group>" -> when the group last fired (seconds, as text).
Entries of the per-rule stories of before events ("story\\x1f...") are skipped: an upgrade
starts its events afresh (docs/guarantees.md).
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_left, insort
from collections.abc import Iterator

from pydantic_core import to_json

from alerting.event_book import EventBook

SEP = "\x1f"
EVENT = "event"
THROTTLE = "throttle"
STORY = "story"  # the older per-rule stories: read past, never written
_EVENT_FIELDS = {"id", "opened", "first_seen", "last_seen", "members", "reports", "sources", "rules", "wants", "alerted"}


def event_key(event_id: str) -> str:
    return f"{EVENT}{SEP}{SEP}{event_id}"


def throttle_key(rule_id: str, group: str) -> str:
    return f"{THROTTLE}{SEP}{rule_id}{SEP}{group}"


def encode_event(event: dict) -> bytes:
    """Compact UTF-8 JSON, what `json.dumps(event, ensure_ascii=False, separators=(",", ":"))`
    writes (floats may spell an exponent shorter: 1.5e-7), at a third of its cost: an event is
    rewritten at each report it gains."""
    return to_json(event)


class AlertState:
    """Everything alert rules remember: the open events (with their index), throttles, and which
    events each counting rule has seen when."""

    def __init__(self) -> None:
        self.events = EventBook()
        self.throttles: dict[str, float] = {}  # throttle key -> when the group last fired
        self._fired: dict[str, list[tuple[float, str]]] = {}  # rule id -> heap of (fired, throttle key)
        self._counted: dict[str, list[tuple[float, str]]] = {}  # rule id -> sorted (first matched, event id)

    def last_fired(self, key: str) -> float | None:
        return self.throttles.get(key)

    def set_fired(self, rule_id: str, key: str, when: float) -> None:
        self.throttles[key] = when
        heapq.heappush(self._fired.setdefault(rule_id, []), (when, key))

    def expire_throttles(self, rule_id: str, before: float) -> list[str]:
        """Drops the rule's throttles that fired before `before` (their keys): without this, one
        entry per alerted event would stay in the changelog for ever."""
        heap = self._fired.get(rule_id)
        gone = []
        while heap and heap[0][0] < before:
            when, key = heapq.heappop(heap)
            if self.throttles.get(key) == when:
                del self.throttles[key]
                gone.append(key)
        return gone

    def count_event(self, rule_id: str, event_id: str, when: float) -> None:
        insort(self._counted.setdefault(rule_id, []), (when, event_id))

    def recount(self, event: dict, before: float) -> None:
        """Counts the event for each of its rules at its `first_seen`, which a merge or an
        earlier report moved from `before`: as `load` would after a restart."""
        eid, when = event["id"], float(event["first_seen"])
        for rule_id in event["rules"]:
            entries = self._counted.setdefault(rule_id, [])
            i = bisect_left(entries, (before, eid))
            if i < len(entries) and entries[i] == (before, eid):
                del entries[i]
            insort(entries, (when, eid))

    def counted_events(self, rule_id: str, since: float, until: float) -> list[str]:
        """Open events of the rule that began (first report's time) between `since` and `until`,
        oldest first. Closed events do not count, and are dropped here: a worker rebuilding from
        the changelog knows only the open ones."""
        entries = [e for e in self._counted.get(rule_id, []) if self.events.get(e[1]) is not None]
        self._counted[rule_id] = entries
        found = (eid for when, eid in entries[bisect_left(entries, (since,)):] if when <= until)
        return list(dict.fromkeys(found))

    def load(self, key: str, value: bytes | None) -> None:
        """One changelog entry (event or throttle), as written by a step; None (a tombstone)
        forgets the key. Raises ValueError on an entry it cannot read."""
        kind, rule_id, rest = _split(key)
        if kind == STORY:
            return
        if value is None:
            self.forget(key)
            return
        try:
            if kind == EVENT:
                event = json.loads(value)
                if not isinstance(event, dict) or event.get("id") != rest or not _EVENT_FIELDS <= event.keys():
                    raise ValueError("not an event of this key")
                self.events.add(event)
                for rid in event["rules"]:
                    self.count_event(rid, rest, float(event["first_seen"]))
            else:
                self.set_fired(rule_id, key, float(value))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable alert state entry {key!r}: {exc}") from exc

    def forget(self, key: str) -> None:
        kind, _, rest = _split(key)
        if kind == EVENT:
            if self.events.get(rest) is not None:
                self.events.remove(rest)
        elif kind == THROTTLE:
            self.throttles.pop(key, None)  # its heap entry is skipped when popped

    def records(self) -> Iterator[tuple[str, bytes]]:
        """The whole state as changelog entries: what a compacted topic holds after these steps."""
        for event in sorted(self.events, key=lambda e: e["seq"]):
            yield event_key(event["id"]), encode_event(event)
        for key, when in self.throttles.items():
            yield key, repr(when).encode()


def _split(key: str) -> tuple[str, str, str]:
    parts = key.split(SEP, 2)
    if len(parts) != 3 or parts[0] not in (EVENT, THROTTLE, STORY):
        raise ValueError(f"not an alert state key: {key!r}")
    return parts[0], parts[1], parts[2]
