"""The `watchfloor` command as an operator runs it: real processes, real broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN, ROOT
from core.broker import free_port

WATCHFLOOR = str(BIN / "watchfloor")


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATCHFLOOR, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args", [["ingest", "--once"], ["tail", "headlines.raw"]])
def test_commands_without_a_cluster_name_the_variable(args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    proc = run(args, env, timeout=20)
    assert proc.returncode == 2
    assert "WATCHFLOOR_KAFKA_BOOTSTRAP" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ingest_once_exits_nonzero_when_the_broker_is_unreachable(cli_env):
    env = {**cli_env, "WATCHFLOOR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    proc = run(["ingest", "--once"], env)
    assert proc.returncode != 0
    assert "cannot reach Kafka" in proc.stderr and "Traceback" not in proc.stderr


def test_ingest_once_puts_every_sample_entry_on_the_raw_topic_exactly_once(cli_env):
    first = run(["ingest", "--once"], cli_env)
    assert first.returncode == 0, first.stderr
    tail = run(["tail", "headlines.raw", "--from-beginning", "--no-follow"], cli_env)
    messages = [json.loads(line) for line in tail.stdout.splitlines()]
    assert len(messages) >= 80
    assert len({m["id"] for m in messages}) == len(messages)
    assert {m["schema"] for m in messages} == {"headline.raw/1"}
    assert any(m["language"] == "uk" for m in messages)
    assert "broken-sample" in {m["feed_id"] for m in messages}  # the malformed sample still yields entries

    second = run(["ingest", "--once"], cli_env)
    assert second.returncode == 0
    again = run(["tail", "headlines.raw", "--from-beginning", "--no-follow"], cli_env)
    assert len(again.stdout.splitlines()) == len(messages)


def test_tail_limit_and_unknown_topic(cli_env):
    assert run(["ingest", "--once"], cli_env).returncode == 0
    limited = run(["tail", "headlines.raw", "--from-beginning", "--limit", "3"], cli_env)
    assert len(limited.stdout.splitlines()) == 3
    missing = run(["tail", "no.such.topic", "--no-follow"], cli_env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_tail_names_what_a_tombstone_deletes(cli_env, settings):
    """A merged event leaves a tombstone on the compacted events topic: tail says which key went."""
    from core.topics import Topics, ensure_topics
    from tests.kafka_helpers import produce

    topics = Topics(settings.topic_prefix)
    asyncio.run(ensure_topics(settings, topics.specs()))
    asyncio.run(produce(settings, topics.events, [(b"ev-merged", b'{"id": "ev-merged"}'), (b"ev-merged", None)]))
    lines = run(["tail", "events", "--from-beginning", "--no-follow"], cli_env).stdout.splitlines()
    assert [json.loads(x) for x in lines] == [{"id": "ev-merged"}, {"key": "ev-merged", "deleted": True}]


def test_broker_command_prints_ready_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    proc = subprocess.Popen(
        [WATCHFLOOR, "broker", "--port", str(port), "--data-dir", str(tmp_path / "b")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        started = time.monotonic()
        line = proc.stdout.readline().strip()
        assert line == f"ready 127.0.0.1:{port}"
        assert time.monotonic() - started < 20
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # the Java broker is gone too: the port is free again
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_schemas_command_matches_the_published_files(tmp_path):
    proc = subprocess.run([WATCHFLOOR, "schemas", "--write", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0
    for produced in tmp_path.iterdir():
        assert produced.read_text() == (ROOT / "docs" / "schemas" / produced.name).read_text()


def test_tail_with_an_unreachable_broker_is_one_clear_line(cli_env):
    env = {**cli_env, "WATCHFLOOR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    proc = run(["tail", "headlines.raw", "--no-follow"], env)
    assert proc.returncode == 2
    assert "cannot reach Kafka" in proc.stderr and "Traceback" not in proc.stderr and "─" not in proc.stderr


def test_run_quick_start_shows_sample_alerts_and_stops_cleanly_on_ctrl_c(tmp_path):
    """The README's first command: embedded broker, sample feeds, alerts on the terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    env["WATCHFLOOR_DATA_DIR"] = str(tmp_path / "data")
    console = free_port()
    env["WATCHFLOOR_CONSOLE_PORT"] = str(console)
    out = open(tmp_path / "out.txt", "w+")
    proc = subprocess.Popen([WATCHFLOOR, "run"], env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        # the sample alerts arrive in polling order: wait for all of them, not for the first one
        expected = ("[HIGH]", "Yantar", "Ternopil")
        while time.monotonic() < deadline and not all(e in (tmp_path / "out.txt").read_text() for e in expected):
            time.sleep(0.5)
        shown = (tmp_path / "out.txt").read_text()
        assert all(e in shown for e in expected), shown[-3000:]
        assert "striker" not in shown.lower() and "Black Friday" not in shown
        time.sleep(3)  # a wrong second alert for an event would come with the first ones
        shown = (tmp_path / "out.txt").read_text()
        firsts = [line for line in shown.splitlines() if line.startswith("[") and "] Update: " not in line]
        # one alert per event, however many feeds and languages reported it (7 feeds, en + uk)
        assert len([t for t in firsts if "Ternopil" in t or "Тернопол" in t]) == 1, firsts
        assert len([t for t in firsts if "rail" in t.lower() and "sabotage" in t.lower()]) == 1, firsts
        import httpx  # the web console runs in the quick start too, with the same alerts

        state = httpx.get(f"http://127.0.0.1:{console}/api/state", timeout=10).json()
        assert any("Yantar" in a["title"] for a in state["alerts"]) and state["chart"]["categories"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert "Traceback" not in err, err[-3000:]
    assert "embedded Kafka stopped" in err


def test_ingest_loop_serves_metrics_and_readiness(cli_env):
    import httpx

    port = free_port()
    env = {**cli_env, "WATCHFLOOR_METRICS_PORT": str(port)}
    proc = subprocess.Popen([WATCHFLOOR, "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                    if 'watchfloor_feeds_polled_total{feed="kyiv-wire",status="ok"} 1.0' in text:
                        break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert 'watchfloor_feeds_polled_total{feed="kyiv-wire",status="ok"} 1.0' in text
        assert 'watchfloor_headlines_ingested_total{feed="kyiv-wire"}' in text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
