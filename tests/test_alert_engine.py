"""The one alert engine (alerting/engine.py), as the live stage and the backtest run it: what a
watch officer sees (alerts, their sources, throttles, silences) and what the changelog holds."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting.engine import AlertEngine, AlertState, new_story, file_report, judge, group_key
from alerting.silences import SilenceBook
from alerting.state import story_key, throttle_key
from alerting.stories import must_share, same_story, story_tokens
from core.contracts import CategoryMatch, ClassifiedHeadline, Silence
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
    window: 15m
    throttle: 1h
    notify: [watch]
  - id: confirmed
    when: {categories: [airstrike], sources_at_least: 2}
    window: 2h
    throttle: 1d
    notify: [watch]
  - id: by-category
    when: {categories: [airstrike, sabotage]}
    group_by: category
    throttle: 1h
    notify: [watch]
  - id: spike
    when: {categories: [airstrike], count_at_least: 3}
    group_by: rule
    window: 10m
    throttle: 30m
    notify: [watch]
"""

T0 = datetime(2025, 11, 19, 6, 0, tzinfo=timezone.utc)
TERNOPIL = ["Russian missile strike on Ternopil apartment blocks kills dozens",
            "Missile strike on Ternopil apartment blocks kills dozens",
            "Dozens killed as Russian missiles hit Ternopil apartment blocks"]
LABELLED = Path(__file__).parent / "data" / "labelled.jsonl"


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.yaml").write_text(RULES)
    return load_rules(folder)


def headline(n: int, title: str, source: str = "A", minutes: float = 0, category: str = "airstrike") -> ClassifiedHeadline:
    return ClassifiedHeadline(
        id=f"h{n}", feed_id=source.lower(), source=source, title=title, link=f"https://{n}.example/", fetched=T0,
        categories=[CategoryMatch(id=category, severity="high", matched=["missile*"])],
        places=[], rules_version="test", classified=T0 + timedelta(minutes=minutes))


def run(engine: AlertEngine, state: AlertState, rule_id: str, h: ClassifiedHeadline):
    return engine.step(state, rule_id, h, h.classified.timestamp())


def test_first_report_fires_one_alert_and_writes_its_story_and_throttle(ruleset):
    engine, state = AlertEngine(ruleset), AlertState()
    step = run(engine, state, "strikes", headline(1, TERNOPIL[0], "Kyiv Wire"))
    assert step.outcome == "fire" and step.silenced_by is None
    alert = step.alert
    assert alert.rule_id == "strikes" and alert.title == TERNOPIL[0] and alert.source_count == 1
    assert [r.source for r in alert.reports] == ["Kyiv Wire"] and alert.notify == ["watch"]
    assert [k for k, _ in step.records] == [story_key("strikes", alert.story_id), throttle_key("strikes", alert.story_id)]
    assert json.loads(step.records[0][1])["title"] == TERNOPIL[0]
    again = run(AlertEngine(ruleset), AlertState(), "strikes", headline(1, TERNOPIL[0], "Kyiv Wire"))
    assert again.alert.id == alert.id  # a replay after a crash fires the same alert id


def test_throttle_holds_per_group(ruleset):
    engine, state = AlertEngine(ruleset), AlertState()
    by_story = [run(engine, state, "strikes", h).outcome for h in (
        headline(1, TERNOPIL[0], "A"), headline(2, "Drone strike on Odesa port", "B", 1),
        headline(3, TERNOPIL[1], "C", 2), headline(4, TERNOPIL[2], "D", 61))]
    assert by_story == ["fire", "fire", "throttled", "fire"]  # one group per story; the throttle ends after 1h
    by_category = [run(engine, state, "by-category", h).outcome for h in (
        headline(5, TERNOPIL[0], "A"), headline(6, "Drone strike on Odesa port", "B", 1),
        headline(7, "Sabotage on the Warsaw-Lublin railway", "C", 2, category="sabotage"))]
    assert by_category == ["fire", "throttled", "fire"]  # Odesa shares Ternopil's category, the railway does not


def test_a_silence_holds_the_alert_back_without_throttling_it(ruleset):
    book = SilenceBook()
    book.put(Silence(id="s1", match=["Ternopil*"], reason="known", created=T0, expires=T0 + timedelta(minutes=30)))
    engine, state = AlertEngine(ruleset, book), AlertState()
    muted = run(engine, state, "strikes", headline(1, TERNOPIL[0], "A", 10))
    assert (muted.outcome, muted.silenced_by, muted.alert) == ("silenced", "s1", None)
    assert not any(k.startswith("throttle") for k, _ in muted.records)
    assert run(engine, state, "strikes", headline(2, "Drone strike on Odesa port", "B", 11)).outcome == "fire"
    later = run(engine, state, "strikes", headline(3, TERNOPIL[1], "C", 40))  # the silence ended at 30
    assert later.outcome == "fire" and later.alert.story_id == muted.story_id and later.alert.source_count == 2


def test_a_follow_up_report_joins_the_story_and_its_sources_grow(ruleset):
    engine, state = AlertEngine(ruleset), AlertState()
    first = run(engine, state, "confirmed", headline(1, TERNOPIL[0], "Kyiv Wire"))
    same_feed = run(engine, state, "confirmed", headline(2, TERNOPIL[1], "Kyiv Wire", 1))
    second = run(engine, state, "confirmed", headline(3, TERNOPIL[2], "Europe Desk", 2))
    assert (first.outcome, same_feed.outcome, second.outcome) == ("pending", "pending", "fire")
    assert first.story_id == same_feed.story_id == second.story_id == second.alert.story_id
    assert second.alert.source_count == 2 and [r.headline_id for r in second.alert.reports] == ["h1", "h2", "h3"]
    [story] = state.open_stories("confirmed")
    assert story["sources"] == ["Kyiv Wire", "Europe Desk"]
    assert json.loads(dict(second.records)[story_key("confirmed", story["id"])])["sources"] == story["sources"]


def test_an_expired_story_is_removed_with_a_tombstone(ruleset):
    engine, state = AlertEngine(ruleset), AlertState()
    old = run(engine, state, "strikes", headline(1, TERNOPIL[0], "A"))
    other = run(engine, state, "strikes", headline(2, "Drone strike on Odesa port", "B", 30))
    assert (story_key("strikes", old.story_id), None) not in other.records  # kept for max(window, throttle) = 1h
    late = run(engine, state, "strikes", headline(3, TERNOPIL[1], "C", 61))
    assert late.records[0] == (story_key("strikes", old.story_id), None)
    assert late.story_id != old.story_id and late.outcome == "fire"  # a new story: the old one is gone
    assert {s["id"] for s in state.open_stories("strikes")} == {other.story_id, late.story_id}


def labelled_headlines(n: int | None = None) -> list[ClassifiedHeadline]:
    lines = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [headline(i, item["title"], f"S{i % 5}", minutes=i * 0.5) for i, item in enumerate(lines[:n])]


def compacted(steps) -> dict[str, bytes]:
    """What a compacted topic keeps of the steps' records: the last value per key, tombstones gone."""
    topic: dict[str, bytes] = {}
    for step in steps:
        for key, value in step.records:
            if value is None:
                topic.pop(key, None)
            else:
                topic[key] = value
    return topic


def test_state_rebuilt_from_the_records_decides_as_the_live_state(ruleset):
    engine, live = AlertEngine(ruleset), AlertState()
    history, after = labelled_headlines(300)[:240], labelled_headlines(300)[240:]
    steps = [run(engine, live, rule_id, h) for h in history for rule_id in ("confirmed", "spike", "strikes")]
    topic = compacted(steps)
    assert topic == dict(live.records())  # the step records are the whole state
    assert any(value is None for s in steps for _, value in s.records)  # expiry happened along the way
    restarted = AlertState()
    entries = list(topic.items())
    random.Random(3).shuffle(entries)  # partitions are read back in any order
    for key, value in entries:
        restarted.load(key, value)
    for h in after:
        for rule_id in ("confirmed", "spike", "strikes"):
            a, b = run(engine, live, rule_id, h), run(engine, restarted, rule_id, h)
            assert (a.outcome, a.story_id, a.alert) == (b.outcome, b.story_id, b.alert)
            assert a.records == b.records
    restarted.load(story_key("strikes", b.story_id), None)  # a tombstone forgets
    assert b.story_id not in {s["id"] for s in restarted.open_stories("strikes")}
    for key, value in ((story_key("strikes", "x"), b'{"id": "x"}'), ("strikes\x1fx", b"{}"), (throttle_key("strikes", "x"), b"soon")):
        with pytest.raises(ValueError):  # the stage can name the entry it skips
            restarted.load(key, value)
    assert "x" not in {s["id"] for s in restarted.open_stories("strikes")}


class FullScan:
    """Today's alert logic before the index: every open story of the rule scanned, newest first."""

    def __init__(self, ruleset, rule_id: str, keep: int) -> None:
        self.rule = next(r for r in ruleset.alerts if r.id == rule_id)
        self.keep = keep
        self.stories: list[dict] = []
        self.throttles: dict[str, float] = {}

    def step(self, h: ClassifiedHeadline) -> tuple[str, str, int]:
        now, rule = h.classified.timestamp(), self.rule
        horizon = now - max(rule.window_s, rule.throttle_s)
        self.stories = [s for s in self.stories if s["last_seen"] >= horizon][-self.keep:]
        tokens = story_tokens(h.title)
        key_words = must_share(tokens)
        story = next((s for s in reversed(self.stories)
                      if not key_words.isdisjoint(s["tokens"]) and same_story(frozenset(s["tokens"]), tokens)), None)
        if story is None:
            story = new_story(rule, h, tokens, now)
            self.stories.append(story)
        story["last_seen"] = now
        file_report(story, h, rule)
        in_window = sum(1 for s in self.stories if s["last_seen"] >= now - rule.window_s)
        key = group_key(rule, story)
        decision = judge(rule, story, in_window, self.throttles.get(key), now)
        if decision.outcome == "fire":
            self.throttles[key] = now
        return decision.outcome, story["id"], len(story["sources"])


@pytest.mark.parametrize("keep", [500, 40])
def test_the_index_finds_what_a_full_scan_finds(ruleset, keep):
    """On 719 real headlines (all open at once for `confirmed`, a 1 day throttle; and with the
    per-rule cap forcing evictions), the index picks the same story and decision every time."""
    headlines = labelled_headlines()
    engine = AlertEngine(ruleset, max_stories=keep)
    for rule_id in ("confirmed", "spike"):
        state, scan = AlertState(), FullScan(ruleset, rule_id, keep)
        joined = 0
        for h in headlines:
            expected = scan.step(h)
            step = run(engine, state, rule_id, h)
            story = state.stories(rule_id).stories[step.story_id]
            assert (step.outcome, step.story_id, len(story["sources"])) == expected, h.title
            joined += len(story["reports"]) > 1
        assert [s["id"] for s in state.open_stories(rule_id)] == [s["id"] for s in scan.stories]
        assert joined > 20  # real merges happened, not only new stories


def test_the_index_misses_no_story_at_the_similarity_threshold():
    """Real headlines rarely sit at the threshold, so pairs are made to: parts and extensions of
    real titles whose similarity is just at or just under SAME_STORY. A story is found by the
    index exactly when the full scan's test says it is the same story."""
    from alerting.state import RuleStories
    from alerting.stories import SAME_STORY, similarity, weight

    titles = [json.loads(line)["title"] for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    sets = [t for t in map(story_tokens, titles) if len(t) >= 4]
    pairs = []
    for i, a in enumerate(sets):
        light_first = sorted(a, key=lambda t: (weight(t), t))
        other = sorted(sets[(i * 7 + 1) % len(sets)] - a, key=weight)
        for k in range(1, len(a)):
            pairs.append((a, frozenset(light_first[:k])))  # a part of a story ...
            pairs.append((a, frozenset(light_first[k:])))
            pairs.append((a, a | frozenset(other[:k])))  # ... and a story with more words
    near = 0
    for story_tokens_, query in pairs:
        for a, b in ((story_tokens_, query), (query, story_tokens_)):
            stories = RuleStories()
            stories.add({"id": "s", "tokens": sorted(a), "last_seen": 0.0})
            expected = not must_share(b).isdisjoint(a) and same_story(a, b)
            assert (stories.match(b) is not None) == expected, (sorted(a), sorted(b))
            near += expected and similarity(a, b) < SAME_STORY * 1.1
    assert near > 100  # enough pairs within 10% above the threshold for a loose bound to show
