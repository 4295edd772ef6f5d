"""`watchfloor rules backtest` against the real broker: a known history and a rule change give
the exact headlines gained and lost per category and the alerts that would (no longer) fire."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from tests.conftest import BIN
from core.contracts import RawHeadline
from core.kafka import read_to_end
from core.topics import Topics, ensure_topics

CURRENT = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match:
      any: ["missile strike*", "drone attack*"]
  - id: diplomacy
    title: Talks
    match:
      any: ["peace talks"]
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    throttle: 1h
    notify: [watch-officers]
  - id: talks
    when: {categories: [diplomacy]}
    notify: [watch-officers]
"""
# The change under test: shelling becomes a strike, drone attacks no longer are.
CANDIDATE = CURRENT.replace('any: ["missile strike*", "drone attack*"]', 'any: ["missile strike*", "shelling"]')

NOW = datetime.now(timezone.utc)
HISTORY = [  # (id, title, age)
    ("old1", "Shelling of Kharkiv outskirts", timedelta(days=3)),  # before --since 1d
    ("h1", "Missile strike on Kharkiv injures 12", timedelta(hours=5)),
    ("h2", "Overnight shelling of Kherson kills two", timedelta(hours=4)),
    ("h3", "Drone attack on Odesa port", timedelta(hours=3)),
    ("h4", "Peace talks resume in Geneva", timedelta(hours=2)),
    ("h5", "Cup final tonight", timedelta(hours=1)),
    ("h2", "Overnight shelling of Kherson kills two", timedelta(minutes=30)),  # republished: counted once
]


@pytest.fixture
def history(settings, tmp_path) -> dict[str, Path]:
    topics = Topics(settings.topic_prefix)

    async def fill() -> None:
        await ensure_topics(settings.bootstrap, topics.specs())
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
        await producer.start()
        try:
            for hid, title, age in HISTORY:
                at = NOW - age
                h = RawHeadline(id=hid, feed_id="wire", source="Wire", title=title, fetched=at)
                await producer.send_and_wait(topics.raw, h.to_bytes(), key=hid.encode(),
                                             timestamp_ms=int(at.timestamp() * 1000))
            await producer.send_and_wait(topics.raw, b"not json", key=b"junk")
        finally:
            await producer.stop()

    asyncio.run(fill())
    rules = {}
    for name, text in (("current", CURRENT), ("candidate", CANDIDATE)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rules.yaml").write_text(text)
        rules[name] = tmp_path / name
    return rules


def backtest(cli_env, rules: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    env = {**cli_env, "WATCHFLOOR_RULES": str(rules["current"])}
    return subprocess.run([str(BIN / "watchfloor"), "rules", "backtest", "--rules", str(rules["candidate"]), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def by_id(items: list[dict]) -> dict[str, dict]:
    return {i["id"]: i for i in items}


def test_a_rule_change_reports_exactly_what_it_gains_and_loses(history, cli_env):
    result = backtest(cli_env, history, "--since", "1d", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["headlines"] == 5 and report["duplicates"] == 1 and report["unreadable"] == 1
    cats = by_id(report["categories"])
    strike = cats["airstrike"]
    assert (strike["before"], strike["after"]) == (2, 2)
    assert [h["id"] for h in strike["gained_headlines"]] == ["h2"]
    assert [h["id"] for h in strike["lost_headlines"]] == ["h3"]
    assert strike["lost_headlines"][0]["title"] == "Drone attack on Odesa port"
    assert (cats["diplomacy"]["gained"], cats["diplomacy"]["lost"], cats["diplomacy"]["after"]) == (0, 0, 1)
    alerts = by_id(report["alerts"])["strikes"]
    assert (alerts["before"], alerts["after"]) == (2, 2)
    assert [a["title"] for a in alerts["gained_headlines"]] == ["Overnight shelling of Kherson kills two"]
    assert [a["title"] for a in alerts["lost_headlines"]] == ["Drone attack on Odesa port"]
    talks = by_id(report["alerts"])["talks"]  # untouched by the change: replayed once, reported alike
    assert (talks["before"], talks["after"], talks["gained"], talks["lost"]) == (1, 1, 0, 0)


def test_a_time_range_limits_the_replay_and_the_summary_is_readable(history, cli_env):
    start, end = NOW - timedelta(hours=4, minutes=30), NOW - timedelta(hours=2, minutes=30)  # h2 and h3 only
    result = backtest(cli_env, history, "--from", start.isoformat(), "--to", end.isoformat())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2 headlines" in out
    assert "+ category airstrike: 1 gained" in out and "Overnight shelling of Kherson kills two" in out
    assert "- category airstrike: 1 lost" in out and "Drone attack on Odesa port" in out
    assert "- alert strikes: 1 events no longer alerted" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("airstrike", "diplomacy"))}
    assert lines["airstrike"] == ["1", "1", "+1", "-1"]


def test_a_backtest_writes_and_commits_nothing(history, cli_env, settings):
    topics = Topics(settings.topic_prefix)
    assert backtest(cli_env, history, "--since", "1d").returncode == 0

    async def state() -> tuple[int, int, list]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
        await admin.start()
        try:
            groups = [g for g, _ in await admin.list_consumer_groups()]
        finally:
            await admin.close()
        return (len(await read_to_end(settings, topics.raw)), len(await read_to_end(settings, topics.classified)),
                [g for g in groups if settings.topic_prefix in g])

    assert asyncio.run(state()) == (len(HISTORY) + 1, 0, [])


def test_a_candidate_that_is_the_rules_in_force_is_warned_about(history, cli_env):
    """An operator who edits the live folder and backtests it against itself sees nothing change:
    the backtest says why instead of reporting a silent "no difference"."""
    result = backtest(cli_env, history, "--since", "1d", "--current", str(history["candidate"]))
    assert result.returncode == 0
    assert "warning: the candidate is the rules in force" in result.stderr and "--current DIR" in result.stderr


def test_candidate_rules_with_a_mistake_are_refused_with_file_and_line(history, cli_env):
    (history["candidate"] / "rules.yaml").write_text(CANDIDATE.replace("severity: high", "severity: hgih"))
    result = backtest(cli_env, history, "--since", "1d")
    assert result.returncode == 1
    assert f"{history['candidate'] / 'rules.yaml'}:4:" in result.stderr


def test_the_replay_matches_classifying_everything_with_both_rule_sets(tmp_path):
    """The backtest classifies only with the rules that changed; on 719 real headlines its counts
    must equal classifying every headline with both full rule sets."""
    import shutil

    import yaml

    from watchfloor.backtest import Backtest
    from rules.loader import DEFAULT_RULES, load_rules

    shutil.copytree(DEFAULT_RULES, tmp_path / "candidate")
    target = tmp_path / "candidate" / "airstrike.yaml"
    data = yaml.safe_load(target.read_text())
    data["rules"][0]["match"]["any"].insert(0, "explosion*")
    data["rules"][0]["match"].setdefault("none", []).append("рятувальники")
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    (tmp_path / "candidate" / "diplomacy.yaml").unlink()  # a removed category too
    alerts = tmp_path / "candidate" / "alerts.yaml"
    alerts.write_text(alerts.read_text().replace("[diplomacy, ", "["))
    current, candidate = load_rules(DEFAULT_RULES), load_rules(tmp_path / "candidate")
    lines = [json.loads(line) for line in (Path(__file__).parent / "data" / "labelled.jsonl").read_text().splitlines() if line.strip()]
    records = [(1_700_000_000_000 + i * 60_000, json.dumps({"id": f"l{i}", "title": l["title"], "summary": l.get("summary", ""),
                                                            "source": f"S{i % 5}", "feed_id": "f", "fetched": "2025-11-20T00:00:00Z"}).encode())
               for i, l in enumerate(lines)]
    test = Backtest(current, candidate)
    test.add(records)
    report = test.finish()
    for cid, change in report.categories.items():
        before = {f"l{i}" for i, l in enumerate(lines) if cid in {m.id for m in current.engine.classify(l["title"], l.get("summary", ""))}}
        after = {f"l{i}" for i, l in enumerate(lines) if cid in {m.id for m in candidate.engine.classify(l["title"], l.get("summary", ""))}}
        assert (change.before, change.after) == (len(before), len(after)), cid
        assert {h["id"] for h in change.gained} == after - before and {h["id"] for h in change.lost} == before - after, cid
    assert report.categories["diplomacy"].after == 0 and report.categories["diplomacy"].lost_count > 0


def test_an_alert_rule_change_is_counted_in_events_not_headlines(tmp_path):
    """Three feeds in three languages report one strike: a rule change that makes it alert gains one event."""
    from rules.loader import load_rules
    from watchfloor.backtest import Backtest

    current = CURRENT.replace('any: ["missile strike*", "drone attack*"]', 'any: ["drone attack*"]')
    candidate = CURRENT.replace('any: ["missile strike*", "drone attack*"]',
                                'any: ["missile strike*", "drone attack*", "ракетн* удар*"]')
    folders = []
    for name, text in (("current", current), ("candidate", candidate)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "rules.yaml").write_text(text)
        folders.append(load_rules(tmp_path / name))
    reports = [("e1", "Missile strike on Ternopil kills 25", "en"),
               ("u1", "Ракетний удар по Тернополю: загинули 25 людей", "uk"),
               ("r1", "Ракетный удар по Тернополю: погибли 25 человек", "ru"),
               ("o1", "Missile strike on Odesa port", "en")]
    run = Backtest(*folders)
    at = NOW - timedelta(hours=1)
    run.add([(int((at + timedelta(minutes=i)).timestamp() * 1000),
              RawHeadline(id=hid, feed_id=f"f{i}", source=f"S{i}", title=title, fetched=at, language=lang).to_bytes())
             for i, (hid, title, lang) in enumerate(reports)])
    report = run.finish()
    strikes = report.alerts["strikes"]
    assert report.categories["airstrike"].gained_count == 4  # headlines
    assert (strikes.before, strikes.after, strikes.gained_count, strikes.lost_count) == (0, 2, 2, 0)  # events
    ternopil = next(e for e in strikes.gained if "Ternopil" in e["title"])
    assert sorted(ternopil["reports"]) == ["e1", "r1", "u1"] and ternopil["sources"] == 3
