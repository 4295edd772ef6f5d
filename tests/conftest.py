"""Shared fixtures: one real Kafka broker per test session, a fresh topic prefix per test."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from core.broker import EmbeddedBroker
from core.settings import Settings
from core.topics import Topics, ensure_topics

ROOT = Path(__file__).resolve().parent.parent

PROCESSOR_RULES = """\
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
"""
BIN = Path(sys.executable).parent
SHARED_HEADLINES = ROOT.parent / "shared" / "data" / "news-headlines-2025H2.txt"


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-node Kafka on a free port (or WATCHFLOOR_TEST_BOOTSTRAP to reuse one)."""
    existing = os.environ.get("WATCHFLOOR_TEST_BOOTSTRAP")
    if existing:
        yield existing
        return
    broker = EmbeddedBroker(tmp_path_factory.mktemp("kafka"), port=0)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(kafka: str, prefix: str, tmp_path: Path) -> Settings:
    return Settings(bootstrap=kafka, topic_prefix=prefix, data_dir=tmp_path / "data")


@pytest.fixture
def cli_env(kafka: str, prefix: str) -> dict[str, str]:
    """Environment for running the `watchfloor` command against the test broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    env.update(WATCHFLOOR_KAFKA_BOOTSTRAP=kafka, WATCHFLOOR_TOPIC_PREFIX=prefix, PATH=f"{BIN}:{env.get('PATH', '')}",
               WATCHFLOOR_METRICS_PORT="0", WATCHFLOOR_CONSOLE_PORT="0",  # many stages at once: no fixed ports
               WATCHFLOOR_EVENT_GROUP_WAIT="1")  # an event's first alert 1 s after its first report, not 20
    return env


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "strikes.yaml").write_text(PROCESSOR_RULES)
    return folder


@pytest.fixture
def processor(cli_env, rules_dir, settings, tmp_path):
    asyncio.run(ensure_topics(settings.bootstrap, Topics(settings.topic_prefix).specs()))
    from core.broker import free_port

    metrics_port = free_port()
    env = {**cli_env, "WATCHFLOOR_RULES": str(rules_dir), "WATCHFLOOR_DATA_DIR": str(tmp_path / "data"),
           "WATCHFLOOR_METRICS_PORT": str(metrics_port)}
    log = open(tmp_path / "process.log", "w+")
    proc = subprocess.Popen([str(BIN / "watchfloor"), "process"], env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = tmp_path / "process.log"  # type: ignore[attr-defined]
    proc.metrics_port = metrics_port  # type: ignore[attr-defined]
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()


@pytest.fixture
def alerter(cli_env, rules_dir, settings, tmp_path):
    """`watchfloor alert` on the test's rules: the stage that turns alert work into alerts."""
    asyncio.run(ensure_topics(settings.bootstrap, Topics(settings.topic_prefix).specs()))
    env = {**cli_env, "WATCHFLOOR_RULES": str(rules_dir)}
    log = open(tmp_path / "alert.log", "w+")
    proc = subprocess.Popen([str(BIN / "watchfloor"), "alert"], env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = tmp_path / "alert.log"  # type: ignore[attr-defined]
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()


def _http_server() -> Iterator[HTTPServer]:
    """A real HTTP server in a thread; threaded so a slow handler does not block the others."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def feed_server() -> Iterator[HTTPServer]:
    """Serves feeds to ingest."""
    yield from _http_server()


@pytest.fixture
def hook_server() -> Iterator[HTTPServer]:
    """Receives webhook alerts (Apprise json://)."""
    yield from _http_server()
