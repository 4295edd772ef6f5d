"""When the Kafka cluster goes away: said once, reminded every 30 s, one line when back, and a
signal still stops the service within 10 s. On a real broker of the test's own, killed for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.broker import EmbeddedBroker, free_port

WATCHFLOOR = str(Path(sys.executable).parent / "watchfloor")


def log_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"level": "raw", "msg": line})
    return out


def wait_for(path: Path, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        time.sleep(0.5)
    return False


def start(args: list[str], bootstrap: str, tmp: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    env.update(WATCHFLOOR_KAFKA_BOOTSTRAP=bootstrap, WATCHFLOOR_TOPIC_PREFIX="outage", WATCHFLOOR_METRICS_PORT="0",
               WATCHFLOOR_CONSOLE_PORT="0", WATCHFLOOR_DATA_DIR=str(tmp / "data"))
    return subprocess.Popen([WATCHFLOOR, *args], env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                            start_new_session=True)


def stop_within(proc: subprocess.Popen, sig: int, seconds: float) -> float:
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"still running {seconds:.0f} s after {signal.Signals(sig).name}")
    return time.monotonic() - started


def test_run_during_an_outage_says_it_once_reminds_says_back_and_stops_on_sigint(tmp_path):
    broker = EmbeddedBroker(tmp_path / "broker", port=free_port())
    broker.start()
    log = tmp_path / "run.log"
    proc = start(["run"], broker.bootstrap, tmp_path, log)
    try:
        assert wait_for(log, "alert delivered", 120), log.read_text()[-3000:]
        time.sleep(3)
        before = len(log_lines(log))
        broker.kill()
        time.sleep(40)
        during = log_lines(log)[before:]
        lost = [r for r in during if r.get("outage") == "start"]
        reminders = [r for r in during if r.get("outage") == "ongoing"]
        assert len(lost) == 1, during
        assert 1 <= len(reminders) <= 2 and "still unreachable after" in reminders[0]["msg"], during
        assert len(during) <= 25, [r.get("msg") for r in during]  # was about 90 lines a second
        assert not [r for r in during if r.get("level") == "error"], during

        broker.start()
        assert wait_for(log, "the connection to Kafka is back", 60), [r.get("msg") for r in log_lines(log)[before:]]
        assert proc.poll() is None

        broker.kill()
        time.sleep(5)
        assert stop_within(proc, signal.SIGINT, 10) < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        broker.stop()


@pytest.mark.parametrize("stage", ["process", "notify", "ingest"])
def test_a_stage_stops_on_sigterm_within_10_s_with_kafka_gone(tmp_path, stage):
    broker = EmbeddedBroker(tmp_path / "broker", port=free_port())
    broker.start()
    log = tmp_path / f"{stage}.log"
    proc = start([stage], broker.bootstrap, tmp_path, log)
    try:
        ready = {"process": "partitions assigned", "notify": "notifier started", "ingest": "ingest started"}[stage]
        assert wait_for(log, ready, 90), log.read_text()[-3000:]
        broker.kill()
        time.sleep(8)
        assert stop_within(proc, signal.SIGTERM, 10) < 10
        lost = [r for r in log_lines(log) if r.get("outage") == "start"]
        assert len(lost) <= 1
    finally:
        if proc.poll() is None:
            proc.kill()
        broker.stop()


def test_the_coordinator_settling_at_start_is_said_at_info_and_one_failure_opens_one_outage():
    """aiokafka warns 'Marking the coordinator dead' at every healthy start: that is routine, not
    a warning; connection failures are one warning however many there are."""
    import logging

    from core.outage import OutageReporter

    reporter = OutageReporter(remind_every=3600, quiet_for=3600)
    settling = logging.LogRecord("aiokafka.consumer.group_coordinator", logging.WARNING, "", 0,
                                 "Marking the coordinator dead (node 1)for group watchfloor-processors.", None, None)
    assert reporter.filter(settling) and settling.levelno == logging.INFO
    said: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record)

    keep = Keep()
    logging.getLogger("watchfloor.kafka").addHandler(keep)
    try:
        for _ in range(50):
            failure = logging.LogRecord("aiokafka.conn", logging.ERROR, "", 0, "Unable connect to node with id 1: refused", None, None)
            assert not reporter.filter(failure)  # held back
    finally:
        logging.getLogger("watchfloor.kafka").removeHandler(keep)
    assert [r.getMessage().split(";")[0] for r in said] == ["lost the connection to Kafka at the cluster"]
    assert reporter.in_outage
