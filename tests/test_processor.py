"""`watchfloor process` against the real broker: classification, dedup, hot reload."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import BIN, PROCESSOR_RULES
from tests.kafka_helpers import headline, produce, send, wait_for_messages
from core.contracts import RawHeadline
from core.kafka import read_to_end
from core.topics import Topics, ensure_topics

RULES_V2 = PROCESSOR_RULES.replace('"drone attack*"', '"drone attack*", "shelling"')


async def test_headlines_come_out_classified_on_the_right_topics(processor, settings):
    topics = Topics(settings.topic_prefix)
    await send(settings,
               headline(1, "Russian missile strike on Kharkiv injures 12"),
               headline(2, "Leaders meet", summary="Peace talks resume in Geneva"),
               headline(3, "Cup final tonight"),
               headline(4, "Drone attack on Odesa port during peace talks"))
    classified = await wait_for_messages(settings, topics.classified, 4, timeout=60)
    by_id = {m["id"]: m for m in classified}
    assert {m["schema"] for m in classified} == {"headline.classified/2"}
    assert [c["id"] for c in by_id["h0001"]["categories"]] == ["airstrike"]
    assert by_id["h0001"]["categories"][0] == {"id": "airstrike", "severity": "high", "matched": ["missile strike*"]}
    assert [c["id"] for c in by_id["h0002"]["categories"]] == ["diplomacy"]
    assert by_id["h0003"]["categories"] == []
    assert sorted(c["id"] for c in by_id["h0004"]["categories"]) == ["airstrike", "diplomacy"]
    assert by_id["h0001"]["title"] == "Russian missile strike on Kharkiv injures 12"
    assert by_id["h0001"]["rules_version"]
    strikes = await wait_for_messages(settings, topics.category("airstrike"), 2)
    assert sorted(m["id"] for m in strikes) == ["h0001", "h0004"]
    talks = await wait_for_messages(settings, topics.category("diplomacy"), 2)
    assert sorted(m["id"] for m in talks) == ["h0002", "h0004"]
    # keys are the headline ids
    records = await read_to_end(settings, topics.classified)
    assert sorted(k.decode() for k, _ in records) == ["h0001", "h0002", "h0003", "h0004"]


async def test_a_redelivered_headline_is_emitted_once(processor, settings):
    topics = Topics(settings.topic_prefix)
    first = headline(7, "Missile strike on Dnipro")
    await send(settings, first, first, headline(8, "marker"))
    await wait_for_messages(settings, topics.classified, 2, timeout=60)
    await asyncio.sleep(2)
    ids = [m["id"] for m in await wait_for_messages(settings, topics.classified, 2)]
    assert sorted(ids) == ["h0007", "h0008"]


async def test_bad_messages_are_skipped_and_the_stream_goes_on(processor, settings):
    topics = Topics(settings.topic_prefix)
    await produce(settings, topics.raw, [(b"x", b"not json"), (b"y", b'{"schema": "headline.raw/1"}')])
    await send(settings, headline(9, "Missile strike on Sumy"))
    [out] = await wait_for_messages(settings, topics.classified, 1, timeout=60)
    assert out["id"] == "h0009"
    dead = await wait_for_messages(settings, topics.processing_dead, 2, timeout=30)
    assert {d["key"] for d in dead} == {"x", "y"} and {d["stage"] for d in dead} == {"classify"}
    assert all(d["topic"] == topics.raw and d["offset"] >= 0 and d["partition"] >= 0 for d in dead)
    by_key = {d["key"]: d for d in dead}
    assert by_key["x"]["value"] == "not json" and "not a headline.raw message" in by_key["y"]["reason"]
    assert "message set aside" in processor.log_path.read_text()


async def test_hot_reload_changes_the_next_result_and_a_broken_edit_keeps_the_old_rules(processor, settings, rules_dir):
    topics = Topics(settings.topic_prefix)
    await send(settings, headline(10, "Heavy shelling of Kherson"))
    [before] = await wait_for_messages(settings, topics.classified, 1, timeout=60)
    assert before["categories"] == []

    (rules_dir / "strikes.yaml").write_text(RULES_V2)
    await wait_for_log(processor, "rules reloaded")
    reloaded = [json.loads(line) for line in processor.log_path.read_text().splitlines() if '"rules reloaded"' in line]
    assert reloaded[0]["stage"] == "process"  # the alert stage logs its own reloads: which stage is it?
    await send(settings, headline(11, "Heavy shelling of Kherson again"))
    after = await wait_for_messages(settings, topics.classified, 2)
    assert [c["id"] for c in next(m for m in after if m["id"] == "h0011")["categories"]] == ["airstrike"]

    (rules_dir / "strikes.yaml").write_text(RULES_V2.replace("severity: high", "severity: extreme"))
    (rules_dir / "more.yaml").write_text("rules:\n  - id: x\n    title: x\n    match: {any: ['!!!']}\n")
    await wait_for_log(processor, f"{rules_dir / 'strikes.yaml'}:4: rules.0.severity")
    await wait_for_log(processor, f"{rules_dir / 'more.yaml'}:4: term '!!!'")
    await send(settings, headline(12, "Shelling resumes near Kherson"))
    latest = await wait_for_messages(settings, topics.classified, 3)
    assert [c["id"] for c in next(m for m in latest if m["id"] == "h0012")["categories"]] == ["airstrike"]
    assert processor.poll() is None, "a broken rule edit must not stop the processor"


async def wait_for_log(proc, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.log_path.read_text():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"log never said {text!r}:\n{proc.log_path.read_text()[-3000:]}")


def test_process_refuses_to_start_on_invalid_rules(cli_env, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "r.yaml").write_text("rules:\n  - id: x\n    title: x\n    match: {any: ['!!!']}\n")
    proc = subprocess.run([str(BIN / "watchfloor"), "process", "--rules", str(bad)], env=cli_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{bad / 'r.yaml'}:4:" in proc.stderr and "Traceback" not in proc.stderr


async def test_metrics_health_and_readiness_endpoints(processor, settings):
    import httpx

    base = f"http://127.0.0.1:{processor.metrics_port}"
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = await client.get(f"{base}/readyz")
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        assert (await client.get(f"{base}/healthz")).status_code == 200
        await send(settings, headline(30, "Missile strike on Odesa"))
        await wait_for_messages(settings, Topics(settings.topic_prefix).classified, 1, timeout=60)
        metrics = (await client.get(f"{base}/metrics")).text
    assert "watchfloor_headlines_classified_total 1.0" in metrics
    assert 'watchfloor_category_matches_total{category="airstrike"} 1.0' in metrics
    assert "watchfloor_rules_loaded 2.0" in metrics
