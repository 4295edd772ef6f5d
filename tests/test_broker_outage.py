"""The broker stopped for 30 s and restarted with its data, while every stage runs: each stage
reconnects by itself and catches up; every feed entry alerts once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.fault_helpers import GrowingFeeds, Pipeline, Receiver, check_exactly_once, wait_for_all
from watchfloor.broker import EmbeddedBroker, free_port

OUTAGE_S = 30


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own (the session broker must not go away under other tests);
    a fixed port, so the restarted broker is where the clients left it."""
    broker = EmbeddedBroker(tmp_path / "kafka", port=free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def hook_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


async def test_broker_down_30s_every_stage_reconnects_and_catches_up(own_broker, prefix, tmp_path, feed_server, hook_server):
    feeds = GrowingFeeds(feed_server, ["alpha", "bravo"])
    receiver = Receiver(hook_server)
    pipe = Pipeline(own_broker.bootstrap, prefix, tmp_path, feeds.feeds_file(tmp_path / "feeds.yaml"),
                    receiver.apprise_config(tmp_path / "apprise.txt"))
    await pipe.ensure_topics()
    stages = [pipe.ingest().start(), pipe.process().start(), pipe.notify().start()]
    try:
        feeds.add_round()
        await wait_for_all(pipe, feeds, receiver, timeout=90)

        own_broker.stop()
        for _ in range(3):  # news keeps coming while Kafka is away
            feeds.add_round()
            await asyncio.sleep(OUTAGE_S / 3)
        own_broker.start()

        feeds.add_round()
        await wait_for_all(pipe, feeds, receiver, timeout=180)
        pipe.assert_alive(*stages)
        await check_exactly_once(pipe, feeds, receiver)
    finally:
        pipe.stop_all()
