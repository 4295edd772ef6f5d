"""The alert engine's state as the live stage keeps it: what each step writes to the changelog,
that a worker rebuilding from those records decides as the one that wrote them, and that the
candidate index finds what comparing with every open event finds."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting.engine import AlertEngine, report_time
from alerting.event_book import EventBook
from alerting.grouping import guess_language, in_time, same_event, signature
from alerting.state import AlertState, event_key, throttle_key
from core.contracts import CategoryMatch, ClassifiedHeadline, Place
from rules.loader import load_rules

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile*", "drone*", "strike*"]}
  - id: sabotage
    title: Sabotage
    severity: high
    match: {any: ["sabotage"]}
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    throttle: 1h
    notify: [watch]
  - id: by-category
    when: {categories: [airstrike, sabotage]}
    group_by: category
    throttle: 1h
    notify: [desk]
  - id: spike
    when: {categories: [airstrike], count_at_least: 3}
    group_by: rule
    window: 10m
    throttle: 30m
    notify: [watch]
"""

T0 = datetime(2025, 11, 19, 6, 0, tzinfo=timezone.utc)
LABELLED = Path(__file__).parent / "data" / "labelled.jsonl"
EVENTS = Path(__file__).parent / "data" / "events.jsonl"
KYIV = Place(id=703448, name="Kyiv", kind="city", country="UA", admin1="12", lat=50.45, lon=30.52)
LVIV = Place(id=702550, name="Lviv", kind="city", country="UA", admin1="15", lat=49.84, lon=24.02)
UKRAINE = Place(id=690791, name="Ukraine", kind="country", country="UA", lat=49.0, lon=32.0)


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.yaml").write_text(RULES)
    return load_rules(folder)


def headline(n: int, title: str, source: str = "A", minutes: float = 0, category: str = "airstrike",
             places: list[Place] | None = None) -> ClassifiedHeadline:
    return ClassifiedHeadline(
        id=f"h{n}", feed_id=source.lower(), source=source, title=title, link=f"https://{n}.example/", fetched=T0,
        categories=[CategoryMatch(id=category, severity="high", matched=["missile*"])],
        places=places or [], rules_version="test", classified=T0 + timedelta(minutes=minutes))


def step(engine: AlertEngine, state: AlertState, h: ClassifiedHeadline):
    return engine.step(state, h, engine.concerned(h), h.classified.timestamp())


def test_a_step_writes_its_event_and_the_throttle_of_what_fired(ruleset):
    engine, state = AlertEngine(ruleset, group_wait=0), AlertState()
    out = step(engine, state, headline(1, "Missile strike on Kyiv", places=[KYIV]))
    [alert] = out.alerts
    assert alert.rules == ["strikes", "by-category"] and alert.notify == ["watch", "desk"]
    keys = [k for k, _ in out.records]
    assert keys.count(event_key(alert.event_id)) == 1
    assert throttle_key("strikes", alert.event_id) in keys and throttle_key("by-category", "airstrike") in keys
    written = json.loads(dict(out.records)[event_key(alert.event_id)])
    assert written["alerted"]["first"] == alert.id and written["pending"] is None
    [public] = out.events
    assert public.id == alert.event_id and public.alerts == [alert.id] and public.source_count == 1


def test_an_alert_says_why_with_its_most_telling_terms_each_once(ruleset):
    """What a watch officer reads under "matched": the phrase first, not the alphabet's first
    eight ("apartment block*, attack, attack on, hit" cut "missile strike*" off), and no word
    beside the wildcard it falls under ("executions, execution*")."""
    engine, state = AlertEngine(ruleset, group_wait=0), AlertState()
    h = headline(1, "Missile strike on Kyiv apartment blocks", places=[KYIV])
    h.categories[0] = CategoryMatch(id="airstrike", severity="high", matched=[
        "apartment block*", "attack", "attack on", "hit", "injur*", "injuring", "injured", "blast", "damage*",
        "missile strike*", "missile*", "missiles"])
    [alert] = step(engine, state, h).alerts
    assert set(alert.matched[:2]) == {"missile strike*", "apartment block*"}
    assert "injuring" not in alert.matched and "missiles" not in alert.matched and "injur*" in alert.matched
    assert len(alert.matched) <= 8


def test_a_group_throttle_holds_the_next_event_back(ruleset):
    engine, state = AlertEngine(ruleset, group_wait=0), AlertState()
    first = step(engine, state, headline(1, "Missile strike on Kyiv", places=[KYIV]))
    second = step(engine, state, headline(2, "Drone strike on Lviv", minutes=5, places=[LVIV]))
    assert first.alerts[0].notify == ["watch", "desk"]
    [alert] = second.alerts  # by-category is throttled for airstrike; strikes throttles per event
    assert alert.rules == ["strikes"] and second.outcomes["by-category"] == "throttled"


def test_old_story_entries_are_skipped_and_unreadable_ones_refused():
    state = AlertState()
    state.load("story\x1fstrikes\x1fabc", b'{"id": "abc"}')  # from before events
    with pytest.raises(ValueError, match="unreadable alert state entry"):
        state.load(event_key("e1"), b"[1, 2]")
    with pytest.raises(ValueError):
        state.load("nonsense", b"1")
    assert len(state.events) == 0


def _history(n: int, seed: int, languages: bool = False) -> list[ClassifiedHeadline]:
    """`languages`: the labelled events' reports in English, Ukrainian and Russian (names spelt in
    both alphabets) instead of English headlines only."""
    if languages:
        titles = [json.loads(line)["title"] for line in EVENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        lines = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
        titles = [d["title"] for d in lines if "airstrike" in d["labels"] or "sabotage" in d["labels"]]
    rng = random.Random(seed)
    places = [KYIV, LVIV, UKRAINE, None]  # a country alone is filed by country and word
    out = []
    minutes = 0.0
    for i in range(n):
        title = rng.choice(titles)
        place = rng.choice(places)
        minutes += rng.choice([0.1, 1, 7])  # in classification order, as the stage reads them
        out.append(headline(i, title, source=f"S{rng.randrange(6)}", minutes=minutes,
                            category=rng.choice(["airstrike", "sabotage"]), places=[place] if place else []))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_state_rebuilt_from_the_records_decides_as_the_live_state(ruleset, seed):
    """A worker that takes over reads the changelog; from there on it must decide as the old one would have."""
    history = _history(240, seed)
    engine = AlertEngine(ruleset, group_wait=20, update_interval=120)
    live, log = AlertState(), {}
    for h in history[:160]:
        for key, value in step(engine, live, h).records:
            log[key] = value
    rebuilt = AlertState()
    for key, value in log.items():
        if value is not None:
            rebuilt.load(key, value)
    assert sorted(e["id"] for e in rebuilt.events) == sorted(e["id"] for e in live.events)
    assert all(json.loads(log[event_key(e["id"])]) == e for e in live.events)  # the record is the event
    assert rebuilt.throttles == live.throttles
    for h in history[160:]:
        a, b = step(engine, live, h), step(engine, rebuilt, h)
        assert [x.id for x in a.alerts] == [x.id for x in b.alerts]
        assert a.event_id == b.event_id


@pytest.mark.parametrize("languages", [False, True])
def test_the_index_finds_what_comparing_with_every_open_event_finds(ruleset, languages):
    history = _history(400, 3, languages)
    book = EventBook()
    for h in history:
        sig = signature(report_time(h), [c.id for c in h.categories], [p.model_dump() for p in h.places], h.title,
                        guess_language(h.title, None))
        found = next(iter(book.matches(sig)), None)
        scan = None
        best = None
        for event in book:
            if not in_time(sig, event["first_seen"], event["last_seen"]):
                continue
            core = {c for m in book.members(event["id"]) for c in m.own_cities}
            if core and sig.own_cities and core.isdisjoint(sig.own_cities):
                continue
            scores = [s for ok, s in (same_event(sig, m) for m in book.members(event["id"])) if ok]
            if scores and (best is None or (max(scores), event["seq"]) > best):
                best, scan = (max(scores), event["seq"]), event
        assert (found or {}).get("id") == (scan or {}).get("id"), h.title
        if found is None:
            from alerting.engine import new_event

            found = new_event(h, h.classified.timestamp())
            book.add(found)
        book.join(found, sig, h.classified.timestamp())
    assert 5 < len(book) < 400


def test_the_same_report_again_is_filed_once(ruleset):
    """A work item read twice (or one per rule, as before events) adds no report, source or member."""
    engine, state = AlertEngine(ruleset, group_wait=0), AlertState()
    h = headline(1, "Missile strike on Kyiv", places=[KYIV])
    for _ in range(3):
        step(engine, state, h)
    [event] = list(state.events)
    assert event["report_count"] == 1 and len(event["members"]) == 1 and len(state.events.members(event["id"])) == 1


def test_two_alike_reports_always_share_a_key_so_merging_finds_them():
    """Merging compares two open events only when their reports share a key (`pair_keys`): that
    must hold for every two reports that are alike, in any alphabet (Driscoll and Дрисколла are
    filed under different prefixes, and a city's report and its region's under different keys)."""
    import itertools

    from alerting.grouping import pair_keys
    from rules.places import tag

    titles = [json.loads(line)["title"] for line in EVENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    sigs = [signature(0.0, ["airstrike"], [p.as_dict() for p in tag(t, "", None)], t, guess_language(t, None))
            for t in titles]
    keys = [pair_keys(s) for s in sigs]
    alike = [(i, j) for i, j in itertools.combinations(range(len(sigs)), 2) if same_event(sigs[i], sigs[j])[0]]
    assert len(alike) > 100
    apart = [(titles[i], titles[j]) for i, j in alike if keys[i].isdisjoint(keys[j])]
    assert apart == []
