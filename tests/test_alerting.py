"""Alert rules over stories, as a watch officer would judge them: one alert per story, no floods."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting.engine import AlertEngine, AlertState, concerned_rules
from alerting.silences import SilenceBook
from rules.loader import load_rules
from core.contracts import CategoryMatch, ClassifiedHeadline, Silence

CATEGORIES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile*", "drone*", "strike*"]}
  - id: diplomacy
    title: Talks
    severity: medium
    match: {any: ["peace plan", "talks"]}
"""

ALERTS = """\
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    window: 15m
    throttle: 1h
    notify: [watch]
  - id: confirmed
    when: {categories: [airstrike], sources_at_least: 2}
    notify: [watch]
  - id: kharkiv
    when: {categories: [airstrike], terms: ["Kharkiv", "Харків*"], severity_at_least: high}
    notify: [watch]
  - id: spike
    when: {categories: [airstrike], count_at_least: 3}
    group_by: rule
    window: 10m
    notify: [watch]
  - id: talks
    when: {categories: [diplomacy], severity_at_least: high}
    notify: [watch]
"""

T0 = datetime(2025, 11, 19, 6, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "categories.yaml").write_text(CATEGORIES)
    (folder / "alerts.yaml").write_text(ALERTS)
    return load_rules(folder)


def classified(ruleset, n: int, title: str, source: str, minutes: float = 0) -> ClassifiedHeadline:
    matches = ruleset.engine.classify(title)
    return ClassifiedHeadline(
        id=f"h{n}", feed_id=source.lower().replace(" ", "-"), source=source, title=title, link=f"https://{n}.example/",
        fetched=T0, categories=[CategoryMatch(id=m.id, severity=m.severity, matched=list(m.matched)) for m in matches],
        places=[], rules_version=ruleset.version, classified=T0 + timedelta(minutes=minutes),
    )


class RuleRunner:
    """The alert stage's step for one rule, over in-memory state."""

    def __init__(self, ruleset, rule_id: str) -> None:
        self.engine = AlertEngine(ruleset)
        self.state = AlertState()
        self.rule_id = rule_id
        self.alerts = []
        self.outcomes = []

    def feed(self, h: ClassifiedHeadline) -> str:
        if self.rule_id not in self.engine.concerned(h):
            self.outcomes.append("ignored")
            return "ignored"
        step = self.engine.step(self.state, self.rule_id, h, h.classified.timestamp())
        if step.alert is not None:
            self.alerts.append(step.alert)
        self.outcomes.append(step.outcome)
        return step.outcome


FIVE_FEEDS = [
    ("Russian missile strike on Ternopil apartment blocks kills dozens", "Kyiv Wire"),
    ("Missile strike on Ternopil apartment blocks kills dozens", "Europe Desk"),
    ("Dozens killed as Russian missiles hit Ternopil apartment blocks", "Global Report"),
    ("Ternopil: death toll rises after missile strike on apartment blocks", "Baltic Monitor"),
    ("Russian missiles hit apartment blocks in Ternopil; dozens killed", "Defence Daily"),
]


def test_one_story_from_five_feeds_gives_one_alert_naming_its_sources(ruleset):
    run = RuleRunner(ruleset, "confirmed")
    for i, (title, source) in enumerate(FIVE_FEEDS):
        run.feed(classified(ruleset, i, title, source, minutes=i))
    assert run.outcomes == ["pending", "fire", "throttled", "throttled", "throttled"]
    [alert] = run.alerts
    assert alert.source_count == 2 and [r.source for r in alert.reports] == ["Kyiv Wire", "Europe Desk"]
    assert alert.title == FIVE_FEEDS[0][0] and alert.severity == "high" and alert.notify == ["watch"]
    assert all(r.link for r in alert.reports)


def test_different_places_are_different_stories(ruleset):
    run = RuleRunner(ruleset, "strikes")
    run.feed(classified(ruleset, 1, "Russian missile strike on Kharkiv", "A"))
    run.feed(classified(ruleset, 2, "Russian missile strike on Ternopil", "B"))
    run.feed(classified(ruleset, 3, "Missile strike on Kharkiv injures 12", "C"))
    assert run.outcomes == ["fire", "fire", "throttled"]


def test_same_source_twice_is_not_two_sources(ruleset):
    run = RuleRunner(ruleset, "confirmed")
    run.feed(classified(ruleset, 1, FIVE_FEEDS[0][0], "Kyiv Wire"))
    run.feed(classified(ruleset, 2, FIVE_FEEDS[1][0], "Kyiv Wire", minutes=1))
    assert run.outcomes == ["pending", "pending"]


def test_throttle_ends_and_old_stories_expire(ruleset):
    run = RuleRunner(ruleset, "strikes")
    run.feed(classified(ruleset, 1, FIVE_FEEDS[0][0], "A"))
    run.feed(classified(ruleset, 2, FIVE_FEEDS[1][0], "B", minutes=59))
    run.feed(classified(ruleset, 3, FIVE_FEEDS[2][0], "C", minutes=61))
    assert run.outcomes == ["fire", "throttled", "fire"]
    assert run.alerts[0].id != run.alerts[1].id


def test_spike_rule_fires_on_the_third_story_in_its_window_once(ruleset):
    run = RuleRunner(ruleset, "spike")
    titles = ["Drone strike on Odesa port", "Missile hits Dnipro factory", "Strike on Sumy power station",
              "Drone attack on Kherson market"]
    for i, t in enumerate(titles):
        run.feed(classified(ruleset, i, t, "A", minutes=i))
    assert run.outcomes == ["pending", "pending", "fire", "throttled"]
    assert run.alerts[0].story_count == 3 and run.alerts[0].group == "spike"


def test_filters_by_category_terms_and_severity(ruleset):
    by_id = lambda h: [r.id for r in concerned_rules(ruleset, h)]  # noqa: E731
    assert "kharkiv" in by_id(classified(ruleset, 1, "Drone strike on Kharkiv", "A"))
    assert "kharkiv" in by_id(classified(ruleset, 2, "Дрони атакували Харків drone", "A"))
    assert "kharkiv" not in by_id(classified(ruleset, 3, "Drone strike on Odesa", "A"))
    assert by_id(classified(ruleset, 4, "Peace plan talks in Geneva", "A")) == []  # severity medium < high
    assert by_id(classified(ruleset, 5, "Cup final tonight", "A")) == []


def test_alert_ids_are_deterministic_for_reprocessing(ruleset):
    ids = []
    for _ in range(2):
        run = RuleRunner(ruleset, "strikes")
        run.feed(classified(ruleset, 1, FIVE_FEEDS[0][0], "A"))
        ids.append(run.alerts[0].id)
    assert ids[0] == ids[1]


def test_silences_by_rule_and_by_terms():
    book = SilenceBook()
    now = datetime.now(timezone.utc)
    book.put(Silence(id="s1", rule="strikes", reason="drill", created=now, expires=now + timedelta(hours=1)))
    book.put(Silence(id="s2", match=["Ternopil*"], reason="known", created=now, expires=now + timedelta(hours=1)))
    book.put(Silence(id="s3", rule="talks", reason="old", created=now - timedelta(hours=3), expires=now - timedelta(hours=1)))
    assert book.silencing("strikes", "anything", "").id == "s1"
    assert book.silencing("other", "Missile strike on Ternopil", "").id == "s2"
    assert book.silencing("other", "Missile strike on Kharkiv", "") is None
    assert book.silencing("talks", "Peace talks", "") is None  # expired


def test_rules_check_reports_alert_problems(tmp_path):
    (tmp_path / "c.yaml").write_text(CATEGORIES)
    (tmp_path / "a.yaml").write_text("""\
alerts:
  - id: x
    when: {categories: [airstrik]}
    window: 15 minutes
    notify: [watch]
  - id: y
    when:
      categories: [diplomacy]
    notify: [watch-oficers]
""")
    from rules.loader import RulesError

    with pytest.raises(RulesError) as info:
        load_rules(tmp_path, known_tags={"watch-officers"})
    text = str(info.value)
    assert f"{tmp_path / 'a.yaml'}:4:" in text and "bad duration" in text
    assert f"{tmp_path / 'a.yaml'}:9:" in text and "'watch-oficers'" in text and "did you mean 'watch-officers'" in text
