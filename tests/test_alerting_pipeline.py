"""Alert rules live (`watchfloor process` + `watchfloor alert`) on the real broker: one alert per story; silences honoured."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import datetime, timezone

from tests.conftest import BIN
from tests.kafka_helpers import headline, send, wait_for_messages
from core.contracts import Alert
from core.kafka import read_to_end
from core.topics import Topics

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile*", "drone*"]}
  - id: diplomacy
    title: Talks
    match: {any: ["peace talks"]}
alerts:
  - id: strikes
    when: {categories: [airstrike], sources_at_least: 2}
    notify: [watch-officers]
  - id: talks
    when: {categories: [diplomacy]}
    notify: [diplomats]
"""


async def test_five_feeds_one_story_one_alert_and_a_silence_stops_the_next(processor, alerter, settings, rules_dir, cli_env):
    (rules_dir / "strikes.yaml").write_text(RULES)
    await asyncio.sleep(2.5)  # the processor picks the new file up within a second
    topics = Topics(settings.topic_prefix)
    reports = [
        ("Russian missile strike on Ternopil apartment blocks kills dozens", "Kyiv Wire"),
        ("Missile strike on Ternopil apartment blocks kills dozens", "Europe Desk"),
        ("Dozens killed as Russian missiles hit Ternopil apartment blocks", "Global Report"),
        ("Ternopil: death toll rises after missile strike on apartment blocks", "Baltic Monitor"),
        ("Russian missiles hit apartment blocks in Ternopil; dozens killed", "Defence Daily"),
    ]
    items = []
    for i, (title, source) in enumerate(reports):
        h = headline(100 + i, title)
        items.append(h.model_copy(update={"source": source, "feed_id": source.lower().replace(" ", "-")}))
    items += [headline(110, "Cup final tonight"), headline(111, "Drone show lights up harbour festival").model_copy(update={"source": "Kyiv Wire"})]
    await send(settings, *items)
    await wait_for_messages(settings, topics.classified, 7, timeout=60)
    [alert] = [Alert.model_validate(m) for m in await wait_for_messages(settings, topics.alerts, 1, timeout=30)]
    assert alert.rule_id == "strikes" and alert.source_count >= 2
    # the five reports race across raw partitions: any of them may be the story's first
    assert alert.title in {t for t, _ in reports}
    assert {r.link for r in alert.reports} <= {f"https://wire.example/{100 + i}" for i in range(5)}

    proc = subprocess.run([str(BIN / "watchfloor"), "silence", "add", "--match", "Odesa", "--for", "1h", "--reason", "test"],
                          env=cli_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    await asyncio.sleep(1.5)
    odesa = [headline(120, "Missile strike on Odesa port").model_copy(update={"source": "A"}),
             headline(121, "Missiles hit Odesa port overnight").model_copy(update={"source": "B"})]
    await send(settings, *odesa, headline(122, "Peace talks open in Geneva"))
    alerts = await wait_for_messages(settings, topics.alerts, 2, timeout=30)  # the talks alert proves the stream moved on
    await asyncio.sleep(1)
    rules_fired = sorted(a["rule_id"] for _, v in await read_to_end(settings, topics.alerts) for a in [__import__("json").loads(v)])
    assert rules_fired == ["strikes", "talks"], "the silenced Odesa story must not alert"
    log = alerter.log_path.read_text()
    assert "alert silenced" in log
    assert '"level": "error"' not in log, [l for l in log.splitlines() if '"level": "error"' in l]


async def test_story_and_throttle_state_survive_an_alert_stage_kill(processor, alerter, settings, rules_dir, cli_env, tmp_path):
    """State lives in the compacted alerting.state topic: a worker killed with SIGKILL and
    restarted remembers the story and its throttle."""
    import signal

    (rules_dir / "strikes.yaml").write_text(RULES)
    await asyncio.sleep(2.5)
    topics = Topics(settings.topic_prefix)
    first = headline(200, "Russian missile strike on Ternopil apartment blocks kills dozens").model_copy(update={"source": "A"})
    await send(settings, first)
    await wait_for_messages(settings, topics.classified, 1, timeout=60)
    await asyncio.sleep(2.5)  # the alert stage has committed the story with its offset
    alerter.send_signal(signal.SIGKILL)
    alerter.wait(10)

    log = open(tmp_path / "restart.log", "w")
    env = {**cli_env, "WATCHFLOOR_RULES": str(rules_dir)}
    again = subprocess.Popen([str(BIN / "watchfloor"), "alert"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        second = headline(201, "Missile strike on Ternopil apartment blocks kills dozens").model_copy(update={"source": "B"})
        third = headline(202, "Dozens killed as Russian missiles hit Ternopil apartment blocks").model_copy(update={"source": "C"})
        await send(settings, second, third, headline(203, "Peace talks open in Geneva"))
        alerts = await wait_for_messages(settings, topics.alerts, 2, timeout=90)
        await asyncio.sleep(1)
        alerts = [__import__("json").loads(v) for _, v in await read_to_end(settings, topics.alerts)]
        strikes = [a for a in alerts if a["rule_id"] == "strikes"]
        assert len(strikes) == 1, "the story's first report (before the restart) plus the second make one alert"
        sources = [r["source"] for r in strikes[0]["reports"]]
        assert sources[0] == "A" and len(sources) == 2  # B and C race on different raw partitions
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)
        log.close()
