"""Alert rules over events, as a watch officer judges them: one alert per real-world event,
whatever the number of feeds, languages or rules that report it; one update when it grows;
separate events kept separate. Headlines are classified and placed by the real rules and
gazetteer, as the classify stage does it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting.engine import AlertEngine, concerned_rules
from rules.routing import alert_work
from alerting.silences import SilenceBook
from alerting.state import AlertState
from core.contracts import RawHeadline, Silence
from processors.classify import classify_headline
from rules.loader import load_rules

CATEGORIES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile*", "drone*", "strike*", "удар*", "ракет*", "дрон*"]}
  - id: sabotage
    title: Sabotage
    severity: high
    match: {any: ["sabotage", "blast"]}
  - id: diplomacy
    title: Talks
    severity: medium
    match: {any: ["peace plan", "talks"]}
"""

ALERTS = """\
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    throttle: 1h
    notify: [watch]
  - id: confirmed
    when: {categories: [airstrike, sabotage], sources_at_least: 2}
    notify: [analysts]
  - id: kharkiv
    when: {categories: [airstrike], terms: ["Kharkiv", "Харків*"], severity_at_least: high}
    notify: [kharkiv-desk]
  - id: spike
    when: {categories: [airstrike], count_at_least: 3}
    group_by: rule
    window: 10m
    throttle: 1h
    notify: [watch]
  - id: talks
    when: {categories: [diplomacy], severity_at_least: high}
    notify: [watch]
"""

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 11, 19, 6, 0, tzinfo=timezone.utc)
WAIT = 20.0
INTERVAL = 600.0


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "categories.yaml").write_text(CATEGORIES)
    (folder / "alerts.yaml").write_text(ALERTS)
    return load_rules(folder)


class Desk:
    """The alert stage over in-memory state: reports in at their times, flushes as time passes."""

    def __init__(self, ruleset, silences: SilenceBook | None = None, **options) -> None:
        options = {"group_wait": WAIT, "update_interval": INTERVAL, **options}
        self.ruleset = ruleset
        self.engine = AlertEngine(ruleset, silences, **options)
        self.state = AlertState()
        self.alerts = []
        self.n = 0
        self.now = T0.timestamp()

    def report(self, title: str, source: str, seconds: float, language: str | None = "en", summary: str = "",
               published_ago: float = 0.0):
        self.n += 1
        at = T0 + timedelta(seconds=seconds)
        raw = RawHeadline(id=f"h{self.n}", feed_id=source.lower().replace(" ", "-"), source=source, title=title,
                          summary=summary, link=f"https://{self.n}.example/",
                          published=at - timedelta(seconds=published_ago), fetched=at, language=language)
        h = classify_headline(raw, self.ruleset, now=at)
        work = alert_work(self.ruleset, h)  # what the classify stage hands on
        self.now = at.timestamp()
        if work is not None:
            step = self.engine.step(self.state, h, [r.id for r in work], self.now)
            self.alerts += step.alerts
            return step
        return None

    def wait(self, seconds: float) -> list:
        self.now += seconds
        got = self.engine.flush(self.state, self.now).alerts
        self.alerts += got
        return got


TERNOPIL = [
    ("Russian missile strike on Ternopil apartment blocks kills dozens", "Kyiv Wire", "en"),
    ("Missile strike on Ternopil apartment blocks kills dozens", "Europe Desk", "en"),
    ("Ракетний удар по Тернополю: зруйновано під'їзди багатоповерхівок", "Podillia Info", "uk"),
    ("Dozens killed as Russian missiles hit Ternopil apartment blocks", "Global Report", "en"),
    ("Ракетный удар по Тернополю: разрушены подъезды многоэтажек", "Interfax UA", "ru"),
]


def test_five_feeds_in_three_languages_give_one_alert_then_one_update(ruleset):
    desk = Desk(ruleset)
    for i, (title, source, lang) in enumerate(TERNOPIL):
        desk.report(title, source, seconds=i * 3, language=lang)
    assert desk.alerts == []  # the group wait is not over
    [first] = desk.wait(WAIT)
    assert first.kind == "alert" and first.title == TERNOPIL[0][0]
    assert first.source_count == 5 and first.languages == ["en", "uk", "ru"]
    assert first.rules == ["strikes", "confirmed"] and first.notify == ["watch", "analysts"]
    assert [p.name for p in first.places][:1] == ["Ternopil"]
    assert desk.wait(INTERVAL * 2) == []  # nothing new: no update
    desk.report("Ternopil death toll rises to 26 after missile strike", "Suspilne", seconds=3000)
    desk.report("Ternopil: 26 killed in missile strike, rescuers still searching", "Wire Six", seconds=3010)
    [update] = desk.wait(WAIT)
    assert update.kind == "update" and update.title == "Update: " + TERNOPIL[0][0]
    assert update.event_id == first.event_id and update.update_of == first.id and update.notify == first.notify
    assert update.changes == ["killed: 26"] and update.source_count == 7  # 5 -> 7 sources crosses no step (3, 10)
    assert {r.language for r in update.reports} == {"en", "uk", "ru"}


def test_a_follow_up_in_another_language_updates_its_event_and_alone_sends_nothing():
    """The shipped packs: "Кількість загиблих у Тернополі зросла до 16" names no strike, so no
    alert rule wants it; it is an `aftermath` report (a follow-up category), which joins the
    open Ternopil strike and sends its update with the new figure. The same kind of report in a
    city with no open event sends nothing and opens no event."""
    desk = Desk(load_rules(ROOT / "rules" / "packs"))
    desk.report("Russian missile strike on Ternopil apartment blocks, 9 killed", "Kyiv Wire", 0, language="en")
    [first] = desk.wait(WAIT)
    assert first.kind == "alert" and first.rules == ["kinetic-and-hybrid"]
    step = desk.report("Кількість загиблих у Тернополі зросла до 16, серед них двоє дітей", "Suspilne", 3000, language="uk")
    assert step is not None and step.event_id == first.event_id
    [update] = desk.wait(WAIT)
    assert update.kind == "update" and update.update_of == first.id
    assert "killed: 9 → 16" in update.changes and "now also reported in uk" in update.changes
    events = len(desk.state.events)
    alone = desk.report("Число погибших в Херсоне достигло трёх", "RIA", 3100, language="ru")
    assert alone is not None and alone.event_id is None and alone.alerts == []
    assert len(desk.state.events) == events and desk.wait(WAIT * 2) == []


def test_a_drone_attack_on_odesa_and_one_on_kharkiv_in_the_same_hour_are_two_events(ruleset):
    desk = Desk(ruleset)
    desk.report("Russian drones attack Odesa overnight, port damaged", "A", 0)
    desk.report("Russian drones attack Kharkiv overnight, homes damaged", "B", 60)
    desk.report("Drone attack on Odesa damages port infrastructure", "C", 120)
    desk.wait(WAIT + 120)
    events = {a.event_id: a for a in desk.alerts if a.kind == "alert"}
    assert len(events) == 2
    places = sorted(a.places[0].name for a in events.values())
    assert places == ["Kharkiv", "Odesa"]
    odesa = next(a for a in events.values() if a.places[0].name == "Odesa")
    assert odesa.source_count == 2


def test_polling_order_does_not_decide_what_fires(ruleset):
    """A rule that only the second report concerns is named in the one alert, whichever came first."""
    texts = [("Missile strike on Kharkiv injures 12", "A"), ("Ракетний удар по Харкову: 12 поранених", "B")]
    alerts = []
    for order in (texts, texts[::-1]):
        desk = Desk(ruleset)
        for i, (title, source) in enumerate(order):
            desk.report(title, source, seconds=i * 5, language="uk" if "Х" in title else "en")
        desk.wait(WAIT)
        [alert] = desk.alerts
        alerts.append(alert)
    assert [sorted(a.rules) for a in alerts] == [["confirmed", "kharkiv", "strikes"]] * 2
    assert sorted(alerts[0].notify) == sorted(alerts[1].notify) == ["analysts", "kharkiv-desk", "watch"]


def test_a_rule_that_wants_the_event_later_reaches_only_its_new_tags(ruleset):
    desk = Desk(ruleset)
    desk.report("Missile strike on Zhytomyr damages power plant", "A", 0)
    [first] = desk.wait(WAIT)
    assert first.rules == ["strikes"] and first.notify == ["watch"]
    desk.report("Zhytomyr power plant hit in missile strike", "B", 300)  # now two sources: `confirmed` wants it
    [second] = desk.alerts[1:]
    assert second.kind == "alert" and second.event_id == first.event_id
    assert second.rules == ["confirmed"] and second.notify == ["analysts"]  # the watch has it already
    assert desk.wait(INTERVAL * 3) == []


def test_reports_published_a_day_ago_still_make_one_event(ruleset):
    """A feed's first poll or a catch-up after an outage brings old items: their event lives on
    the stage's clock, so the second source joins it and the two-source rule fires."""
    desk = Desk(ruleset)
    desk.report("Missile strike on Zhytomyr damages power plant", "A", 0, published_ago=13 * 3600)
    desk.report("Zhytomyr power plant hit in missile strike", "B", 60, published_ago=13 * 3600)
    desk.wait(WAIT)
    assert len(desk.state.events) == 1
    assert sorted(t for a in desk.alerts for t in a.notify) == ["analysts", "watch"]


def test_an_alert_to_new_tags_does_not_swallow_the_update_owed_to_the_others(ruleset):
    desk = Desk(ruleset)
    desk.report("Missile strike on Zhytomyr damages power plant", "A", 0)
    desk.wait(WAIT)
    desk.report("Zhytomyr power plant hit in missile strike", "B", INTERVAL + 60)  # confirmed: analysts now
    desk.report("Missile strike on Zhytomyr: power plant on fire", "C", INTERVAL + 70)  # 3 sources: an update
    desk.wait(INTERVAL * 3)
    sent = [(a.kind, a.notify) for a in desk.alerts]
    assert sent[:2] == [("alert", ["watch"]), ("alert", ["analysts"])]
    updates = [notify for kind, notify in sent[2:] if kind == "update"]
    assert len(updates) == 1 and "watch" in updates[0], sent  # the watch saw 1 source: it is told of 3


def test_a_silence_holds_an_update_back_too(ruleset):
    book = SilenceBook()
    desk = Desk(ruleset, book)
    desk.report("Missile strike on Dnipro kills 3", "A", 0)
    desk.wait(WAIT)
    book.put(Silence(id="s1", match=["Dnipro*"], reason="known", created=T0, expires=T0 + timedelta(days=1)))
    desk.report("Missile strike on Dnipro: death toll rises to 7", "B", 60)
    desk.wait(INTERVAL * 2)
    assert [a.kind for a in desk.alerts if "watch" in a.notify] == ["alert"]


def test_updates_are_capped_and_spaced(ruleset):
    desk = Desk(ruleset, max_updates=2)
    desk.report("Missile strike on Dnipro kills 3", "S0", 0)
    desk.wait(WAIT)
    for i in range(1, 30):  # a figure that keeps changing, and sources that keep coming
        desk.report(f"Missile strike on Dnipro: death toll rises to {3 + i}", f"S{i}", seconds=WAIT + i * 60)
        desk.wait(1)
    desk.wait(INTERVAL * 5)
    assert [(a.kind, a.notify) for a in desk.alerts] == [
        ("alert", ["watch"]), ("alert", ["analysts"]), ("update", ["watch", "analysts"]), ("update", ["watch", "analysts"])]
    fired = [a.fired for a in desk.alerts[1:]]
    assert all((b - a).total_seconds() >= INTERVAL for a, b in zip(fired[1:], fired[2:]))


def test_summary_says_what_it_is_and_lists_its_events_with_place_and_link(ruleset):
    desk = Desk(ruleset)
    for i, city in enumerate(["Odesa", "Dnipro", "Sumy", "Kherson"]):
        desk.report(f"Drone strike on {city} damages homes", f"S{i}", seconds=i * 60)
    summaries = [a for a in desk.alerts if a.kind == "summary"]
    [summary] = summaries  # the fourth is within the rule's throttle
    assert summary.title.startswith("Summary: 3 ") and summary.story_count == 3
    assert [e.place for e in summary.events] == ["Sumy", "Dnipro", "Odesa"]
    assert all(e.link and e.link.startswith("https://") for e in summary.events)


def test_a_first_poll_of_old_items_is_no_wave(ruleset):
    """Strikes published hours apart, read in one poll: a summary counts when events happened."""
    desk = Desk(ruleset)
    for i, city in enumerate(["Odesa", "Dnipro", "Sumy", "Kherson"]):
        desk.report(f"Drone strike on {city} damages homes", f"S{i}", seconds=i, published_ago=(4 - i) * 3600)
    desk.wait(WAIT)
    assert [a.kind for a in desk.alerts].count("summary") == 0 and len(desk.alerts) == 4


def test_throttle_by_rule_and_silence_hold_the_alert_back(ruleset):
    book = SilenceBook()
    now = T0
    book.put(Silence(id="s1", match=["Kherson*"], reason="drill", created=now, expires=now + timedelta(hours=2)))
    desk = Desk(ruleset, book)
    desk.report("Missile strike on Kherson market", "A", 0)
    desk.wait(WAIT)
    assert desk.alerts == []  # silenced
    desk.report("Missile strike on Mykolaiv port", "B", 100)
    desk.wait(WAIT)
    assert [a.title for a in desk.alerts] == ["Missile strike on Mykolaiv port"]


def test_alert_ids_are_deterministic_and_state_rebuilt_from_records_decides_alike(ruleset):
    ids = []
    for _ in range(2):
        desk = Desk(ruleset)
        desk.report(*TERNOPIL[0][:2], seconds=0)
        desk.wait(WAIT)
        ids.append(desk.alerts[0].id)
    assert ids[0] == ids[1]
    live = Desk(ruleset)
    live.report(*TERNOPIL[0][:2], seconds=0)
    live.wait(WAIT)
    rebuilt = AlertState()
    for key, value in live.state.records():
        rebuilt.load(key, value)
    restarted = Desk(ruleset)
    restarted.state, restarted.n, restarted.now = rebuilt, live.n, live.now
    for desk in (live, restarted):
        desk.report(*TERNOPIL[1][:2], seconds=30)  # a second source: `confirmed` wants it now
        desk.report(*TERNOPIL[3][:2], seconds=40)  # a third: an update, after the interval
        desk.wait(INTERVAL)
    assert len(live.state.events) == len(rebuilt.events) == 1
    assert [(a.id, a.kind) for a in live.alerts[1:]] == [(a.id, a.kind) for a in restarted.alerts]
    assert [a.kind for a in restarted.alerts] == ["alert", "update"]


HOURS = 3600.0


def test_reports_more_than_a_gap_apart_arriving_out_of_order_become_one_event_when_a_report_bridges_them(ruleset):
    desk = Desk(ruleset)
    desk.report(*TERNOPIL[0][:2], seconds=0)  # published now
    desk.report(*TERNOPIL[1][:2], seconds=1, published_ago=12.5 * HOURS)  # polled late: 12.5 h before it
    assert len(desk.state.events) == 2  # too far apart in time to join
    step = desk.report(*TERNOPIL[3][:2], seconds=2, published_ago=6 * HOURS)  # fits both
    assert len(desk.state.events) == 1
    (event,) = desk.state.events
    gone = step.merged
    assert len(gone) == 1 and gone[0] != event["id"] and (f"event\x1f\x1f{gone[0]}", None) in step.records
    assert step.events[-1].merged == gone and step.events[-1].source_count == 3
    desk.wait(WAIT)
    assert [(a.kind, a.source_count) for a in desk.alerts] == [("alert", 3)]


def test_a_report_bridging_an_alerted_event_and_a_new_one_brings_an_update_not_a_second_alert(ruleset):
    desk = Desk(ruleset)
    desk.report(*TERNOPIL[0][:2], seconds=0)
    desk.wait(WAIT)
    desk.report(TERNOPIL[2][0], TERNOPIL[2][1], seconds=30, language="uk", published_ago=12.5 * HOURS)
    desk.report(*TERNOPIL[3][:2], seconds=31, published_ago=6 * HOURS)
    desk.wait(INTERVAL)
    desk.wait(INTERVAL)
    watch = [a for a in desk.alerts if "watch" in a.notify]
    assert [a.kind for a in watch] == ["alert", "update"]  # one event for the desk that was told
    assert "now also reported in uk" in watch[1].changes and watch[1].update_of == watch[0].id
    analysts = [a for a in desk.alerts if "analysts" in a.notify]  # `confirmed` wants 2 sources: now it has 3
    assert [(a.kind, a.source_count) for a in analysts] == [("alert", 3)] and len(desk.state.events) == 1


def test_two_events_both_alerted_stay_two_when_a_report_fits_both(ruleset):
    desk = Desk(ruleset)
    desk.report(*TERNOPIL[0][:2], seconds=0)
    desk.report(*TERNOPIL[1][:2], seconds=1, published_ago=12.5 * HOURS)
    desk.wait(WAIT)
    assert [a.kind for a in desk.alerts] == ["alert", "alert"]
    desk.report(*TERNOPIL[3][:2], seconds=60, published_ago=6 * HOURS)
    desk.wait(INTERVAL)
    assert len(desk.state.events) == 2  # told apart to the desk: not taken back
    assert [a.kind for a in desk.alerts if "watch" in a.notify] == ["alert", "alert"]


def test_a_merged_event_decides_alike_after_a_restart_and_keeps_every_figure(ruleset):
    live = Desk(ruleset)
    live.report("Russian missile strike on Ternopil apartment blocks: 10 injured", "A", seconds=0)
    live.report("Missile strike on Ternopil apartment blocks kills 5", "B", seconds=1, published_ago=12.5 * HOURS)
    live.report("Russian missile strike on Ternopil apartment blocks", "C", seconds=2, published_ago=6 * HOURS)
    (event,) = live.state.events
    assert {k: v for k, v in event["casualties"].items() if k != "at"} == {"killed": 5, "injured": 10}
    restarted = Desk(ruleset)
    restarted.n, restarted.now = live.n, live.now
    for key, value in live.state.records():
        restarted.state.load(key, value)
    for desk in (live, restarted):  # two more strikes: does the `spike` rule (3 in 10 min) count the merged one alike?
        desk.alerts = []
        desk.report("Drone strike on Lviv", "D", seconds=60)
        desk.report("Missile strike on Odesa port", "E", seconds=120)
        desk.wait(WAIT)
    assert [(a.kind, a.title) for a in live.alerts] == [(a.kind, a.title) for a in restarted.alerts]
    assert live.state.events.expire(live.now + 13 * HOURS) and not live.state.events  # it closes too


def test_an_earlier_report_moves_when_a_counting_rule_counts_its_event_as_a_restart_would(ruleset):
    live = Desk(ruleset)
    live.report(*TERNOPIL[0][:2], seconds=0)
    live.report(*TERNOPIL[1][:2], seconds=1, published_ago=11 * HOURS)  # the same strike, first reported 11 h ago
    assert len(live.state.events) == 1
    restarted = Desk(ruleset)
    restarted.n, restarted.now = live.n, live.now
    for key, value in live.state.records():
        restarted.state.load(key, value)
    for desk in (live, restarted):  # `spike` counts events begun within 10 min: this one began 11 h ago
        desk.alerts = []
        desk.report("Drone strike on Lviv", "D", seconds=60)
        desk.report("Missile strike on Odesa port", "E", seconds=120)
        desk.wait(WAIT)
    assert not [a for a in live.alerts if a.kind == "summary"]
    assert [(a.kind, a.title) for a in live.alerts] == [(a.kind, a.title) for a in restarted.alerts]


def test_a_report_fitting_two_unlike_events_does_not_merge_them(ruleset):
    yantar = ("Drone strike damages Yantar shipyard", "A", 0, 0.0)
    sailors = ("Missile strike kills 47 sailors", "B", 1, 12.5 * HOURS)
    both = ("Missile strike on Yantar shipyard kills 47 sailors", "C", 2, 6 * HOURS)
    for alone in (yantar, sailors):  # the third report is the same happening as each of them
        desk = Desk(ruleset)
        for title, source, seconds, ago in (alone, both):
            desk.report(title, source, seconds=seconds, published_ago=ago)
        assert len(desk.state.events) == 1
    desk = Desk(ruleset)
    for title, source, seconds, ago in (yantar, sailors, both):
        desk.report(title, source, seconds=seconds, published_ago=ago)
    assert len(desk.state.events) == 2  # but they are not alike: two happenings, whatever it says


def test_an_event_closes_after_its_gap_with_a_tombstone(ruleset):
    desk = Desk(ruleset)
    desk.report(*TERNOPIL[0][:2], seconds=0)
    desk.wait(WAIT)
    step = desk.report("Drone strike on Lviv", "B", seconds=13 * 3600)
    assert any(key.startswith("event") and value is None for key, value in step.records)
    assert len(desk.state.events) == 1


def test_filters_by_category_terms_and_severity(ruleset):
    def by_id(title: str, language: str = "en") -> list[str]:
        raw = RawHeadline(id="x", feed_id="f", source="S", title=title, fetched=T0, language=language)
        return [r.id for r in concerned_rules(ruleset, classify_headline(raw, ruleset, now=T0))]

    assert "kharkiv" in by_id("Drone strike on Kharkiv")
    assert "kharkiv" in by_id("Дрони атакували Харків", "uk")
    assert "kharkiv" not in by_id("Drone strike on Odesa")
    assert by_id("Peace plan talks in Geneva") == []  # severity medium < high
    assert by_id("Cup final tonight") == []


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


@pytest.mark.parametrize("text, expected", [
    ("Ternopil death toll rises to 26 after missile strike", {"killed": 26}),
    ("Death toll in Ternopil region rises to 26", {"killed": 26}),
    ("Кількість загиблих у Тернополі зросла до 16, серед них двоє дітей", {"killed": 16}),
    ("Число погибших в Тернополе достигло 25, среди них трое детей", {"killed": 25}),
    ("Число пострадавших в Днепре возросло до 12", {"injured": 12}),
    ("Drone attack on Odesa: 20 drones, toll of injured rises to 7", {"injured": 7}),
    ("Russian drones hit 16 towns", {}),
    ("Kyiv says 300 drones were launched, up to 40 shot down", {}),
])
def test_casualty_figures_are_read_from_the_toll_phrases_of_three_languages(text, expected):
    from alerting.figures import casualties

    assert casualties(text) == expected
