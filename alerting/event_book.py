"""The open events of one partition, as plain JSON-able dicts, with the index that finds a
report's candidate events (by place id and rare stem, alerting/grouping.py) without a scan.

An event's core cities are the cities its reports are about (a report's one city, or the first
it names of several): a report about another city never joins it, so a headline naming three
struck cities joins its first city's event and does not chain the three events into one. An event closes `GAP` after its last report or `SPAN` after its first, whichever is sooner,
counted in classification time (the stage's clock);
`expire` removes closed events that owe no alert (an alert still waiting keeps its event).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import islice

from alerting.grouping import (GAP, SPAN, Signature, in_time, index_keys, lookup_keys, meaning_comparable, pair_keys,
                               same_event)
from alerting.meaning import CANDIDATES as MEANING_CANDIDATES
from alerting.meaning import MEMBERS as MEANING_MEMBERS
from alerting.meaning import Meanings, language_key, needed
from rules.places.gazetteer import capital_ids

MAX_MEMBERS = 20  # reports compared with a newcomer: the first 20 (later ones are the same story retold)


def closes_at(event: dict) -> float:
    """On the stage's clock (classification time), like the `now` it is expired by: a report
    published a day ago and classified now keeps its event open for GAP from now."""
    touched = event.get("touched", event["opened"])
    return min(touched + GAP, event["opened"] + SPAN)


def _names_something(sig: Signature) -> bool:
    """It has an anchor other than its cities (a name, a rare word, a count): cities keep events
    apart on their own (an event's core cities)."""
    return any(not a.startswith("@") for a in sig.anchors)


def _specific(members: list[Signature]) -> list[Signature]:
    """The members that say what an event is when two events are compared: those naming something
    (`_names_something`), if any do. An unspecific report ("missile strike overnight") is alike
    to every event of its wording and would merge them all."""
    return [m for m in members if _names_something(m)] or members


class EventBook:
    def __init__(self) -> None:
        self.events: dict[str, dict] = {}
        self._members: dict[str, list[Signature]] = {}
        self._keys: dict[str, set[str]] = {}  # event id -> its index keys
        self._core: dict[str, set[int]] = {}  # event id -> the cities its reports are about
        self._member_keys: dict[str, list[frozenset[str]]] = {}  # event id -> each member's index keys
        self._index: dict[str, dict[str, int]] = {}  # key -> {event id: seq}
        self._closing: list[tuple[float, str]] = []  # heap of (closes at, id); stale entries skipped
        self._waiting: set[str] = set()  # ids of events with an alert waiting
        # category -> language -> {event id: seq}: the events a report in another language may
        # join by meaning (`alike_in_meaning`), and each event's entries there
        self._by_language: dict[str, dict[str, dict[str, int]]] = {}
        self._language_keys: dict[str, set[tuple[str, str]]] = {}
        self.next_seq = 0

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.events.values())

    def get(self, event_id: str) -> dict | None:
        return self.events.get(event_id)

    def add(self, event: dict) -> None:
        """Files an event (new, or read back from the changelog, replacing one of the same id)."""
        eid = event["id"]
        if eid in self.events:
            self.remove(eid)
        event.setdefault("seq", self.next_seq)
        self.next_seq = max(self.next_seq, event["seq"] + 1)
        self.events[eid] = event
        self._members[eid] = [Signature.from_json(m) for m in event["members"]]
        self._keys[eid] = set()
        self._core[eid] = set()
        self._member_keys[eid] = []
        self._language_keys[eid] = set()
        for sig in self._members[eid]:
            self._file(eid, sig)
        heapq.heappush(self._closing, (closes_at(event), eid))
        if event.get("pending"):
            self._waiting.add(eid)

    def _file(self, eid: str, sig: Signature) -> None:
        self._core[eid] |= sig.own_cities
        seq = self.events[eid]["seq"]
        keys = frozenset(index_keys(sig))
        self._member_keys[eid].append(keys)
        for key in keys - self._keys[eid]:
            self._keys[eid].add(key)
            self._index.setdefault(key, {})[eid] = seq
        if sig.text and not sig.follow_up:
            group = language_key(sig.language)
            for category in sig.categories:
                if (category, group) not in self._language_keys[eid]:
                    self._language_keys[eid].add((category, group))
                    self._by_language.setdefault(category, {}).setdefault(group, {})[eid] = seq

    def remove(self, eid: str) -> None:
        self.events.pop(eid)
        self._waiting.discard(eid)
        self._members.pop(eid)
        self._core.pop(eid)
        self._member_keys.pop(eid)
        for key in self._keys.pop(eid):
            held = self._index.get(key)
            if held is not None:
                held.pop(eid, None)
                if not held:
                    del self._index[key]
        for category, group in self._language_keys.pop(eid):
            groups = self._by_language.get(category, {})
            held = groups.get(group)
            if held is not None:
                held.pop(eid, None)
                if not held:
                    del groups[group]

    def members(self, eid: str) -> list[Signature]:
        """The signatures a newcomer is compared with."""
        return self._members[eid]

    def join(self, event: dict, sig: Signature, now: float) -> None:
        """A report joined `event` at `now` (classification time): its times, its signature
        among the members (the first MAX_MEMBERS), its index keys."""
        event["first_seen"] = min(event["first_seen"], sig.at)
        event["last_seen"] = max(event["last_seen"], sig.at)
        event["touched"] = max(event.get("touched", now), now)
        if len(event["members"]) < MAX_MEMBERS:
            event["members"].append(sig.to_json())
            self._members[event["id"]].append(sig)
            self._file(event["id"], sig)
        heapq.heappush(self._closing, (closes_at(event), event["id"]))

    def _other_city(self, eid: str, sig: Signature) -> bool:
        """The report is about a city the event is not about (its core cities): it never joins.
        A venue report (talks, deals) does not read a capital as a place (`Signature.fixed_cities`),
        neither its own nor the event's."""
        core, own = self._core[eid], sig.own_cities - sig.soft
        if sig.venue and core:
            core = core - capital_ids()
        return bool(core and own and core.isdisjoint(own))

    def candidates(self, sig: Signature, keys: set[str] | None = None) -> list[str]:
        """Open events sharing an index key with the report, newest first."""
        found: dict[str, int] = {}
        for key in keys if keys is not None else lookup_keys(sig):
            held = self._index.get(key)
            if held:
                found.update(held)
        return sorted(found, key=found.__getitem__, reverse=True)

    def matches(self, sig: Signature) -> list[dict]:
        """Every open event the report is in time for and the same happening as (against any
        member), best scoring first; the first is the event it joins, none: a new event. More
        than one: the report may bridge events opened apart (reports that came out of order, or
        before the report that links them), which the engine merges (`bridged`)."""
        scored: list[tuple[float, int, dict]] = []
        keys = lookup_keys(sig)
        for eid in self.candidates(sig, keys):
            event = self.events[eid]
            if not in_time(sig, event["first_seen"], event["last_seen"]):
                continue
            if self._other_city(eid, sig):
                continue  # a report of one city never joins another city's event through a multi-city one
            # only members sharing a key can be the same happening (a place or an anchor in common);
            # a report naming something specific joins an event whose reports do through those, not
            # by retelling the wording of its one unspecific report ("missile strike overnight"),
            # which is alike to every event so worded and would gather them all
            members = self._members[eid]
            specific = _names_something(sig) and any(map(_names_something, members))
            score = max((s for ok, s in (same_event(sig, m, wording=not specific or _names_something(m))
                                         for m, mk in zip(members, self._member_keys[eid]) if not mk.isdisjoint(keys))
                         if ok), default=None)
            if score is not None:
                scored.append((score, event["seq"], event))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [event for _, _, event in scored]

    def alike_in_meaning(self, sig: Signature, meanings: Meanings) -> dict | None:
        """The open event a report the rules found none for is one happening with by meaning
        (alerting/meaning.py): an event of a category it shares, with a report in another
        language that it may be compared with (`meaning_comparable`), whose title's vector is
        alike enough to its own (`needed`); the most alike, the newest on a tie. Only
        events holding a report of another language are looked at, through their own index, and
        of those the MEANING_CANDIDATES last filed there (for each category and language;
        then the newest of those), each through its first MEANING_MEMBERS reports: so the cost
        of a report does not follow the number of open events."""
        if not sig.text or sig.follow_up:
            return None
        own = language_key(sig.language)
        found: dict[str, int] = {}
        for category in sig.categories:
            for group, held in self._by_language.get(category, {}).items():
                if group != own:  # the last filed first: no walk through every open event
                    found.update(islice(reversed(held.items()), MEANING_CANDIDATES))
        best: tuple[float, int] | None = None
        chosen = None
        vector = None
        newest = heapq.nlargest(MEANING_CANDIDATES, found.items(), key=lambda item: item[1])
        for eid, seq in newest:
            event = self.events[eid]
            if not in_time(sig, event["first_seen"], event["last_seen"]):
                continue
            if self._other_city(eid, sig):
                continue
            members = [m for m in self._members[eid][:MEANING_MEMBERS] if meaning_comparable(sig, m)]
            if not members:
                continue
            if vector is None:
                vector = meanings.vector(sig.text).astype("float32")
            for m in members:
                score = float(meanings.vector(m.text).astype("float32") @ vector)
                if score >= needed(sig.language, m.language) and (best is None or (score, seq) > best):
                    best, chosen = (score, seq), event
        return chosen

    def bridged(self, sig: Signature, found: list[dict]) -> list[dict]:
        """Of the events after the first in `found` (a report's matches), those it shows to be the
        first's happening: the two must be alike without it (a report of one is the same
        happening as a report of the other), so that only time kept them apart (reports out of
        order, more than GAP apart, or a link that came late), and about the same city if both
        are about one. A report that fits two events unlike each other (a wave headline, a
        region's report beside two strikes in that region) merges nothing; a follow-up never."""
        if sig.follow_up or sig.tally or len(found) < 2:
            return []
        fid = found[0]["id"]
        first = [(n, pair_keys(n)) for n in _specific(self._members[fid])]
        core, keys = self._core[fid], set().union(*(k for _, k in first))
        out = []
        for e in found[1:]:
            eid = e["id"]
            if core and self._core[eid] and core.isdisjoint(self._core[eid]):
                continue
            others = [(m, pair_keys(m)) for m in _specific(self._members[eid])]
            if keys.isdisjoint(set().union(*(k for _, k in others))):
                continue  # two alike reports share a place or an anchor (`pair_keys`)
            if any(same_event(m, n)[0] for m, mk in others for n, nk in first if not mk.isdisjoint(nk)):
                out.append(e)
        return out

    def absorb(self, event: dict, other: dict) -> None:
        """Files `other`'s members under `event` (up to MAX_MEMBERS) and removes `other`; the
        engine merges the rest of the two (alerting/engine.py, `merge_events`)."""
        self.remove(other["id"])
        for member in other["members"]:
            if len(event["members"]) >= MAX_MEMBERS:
                break
            sig = Signature.from_json(member)
            event["members"].append(member)
            self._members[event["id"]].append(sig)
            self._file(event["id"], sig)
        heapq.heappush(self._closing, (closes_at(event), event["id"]))
        if event.get("pending"):
            self._waiting.add(event["id"])

    def expire(self, now: float) -> list[str]:
        """Removes the events closed before `now` that owe no alert; their ids."""
        gone = []
        held = []
        while self._closing and self._closing[0][0] < now:
            when, eid = heapq.heappop(self._closing)
            event = self.events.get(eid)
            if event is None or closes_at(event) != when:
                continue  # a stale entry: the event moved on, or is gone
            if event.get("pending"):
                held.append((when, eid))
                continue
            self.remove(eid)
            gone.append(eid)
        for entry in held:
            heapq.heappush(self._closing, entry)
        return gone

    def set_pending(self, event: dict, pending: dict | None) -> None:
        """An alert the event owes (or None once it is sent)."""
        event["pending"] = pending
        if pending:
            self._waiting.add(event["id"])
        else:
            self._waiting.discard(event["id"])

    def due(self, now: float) -> list[dict]:
        """Events whose waiting alert is due at `now`, oldest due first."""
        ready = [self.events[e] for e in self._waiting if self.events[e]["pending"]["due"] <= now]
        return sorted(ready, key=lambda e: (e["pending"]["due"], e["seq"]))
