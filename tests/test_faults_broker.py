"""The Kafka broker stopped for 30 s and restarted with its data while `watchfloor ingest`,
`process` and `notify` run: every stage must reconnect by itself and catch up, and every feed
entry published before, during or after the outage must end up as exactly one alert at the
receiver.

This module runs its own broker (the session broker other tests use is never touched), on a
fixed port so a restart keeps the address the stages were given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.fault_helpers import GrowingFeeds, Pipeline, Receiver, check_exactly_once, eventually, wait_for_all
from core.broker import EmbeddedBroker, free_port

OUTAGE = 30.0  # seconds, as the reliability issue asks
FEEDS = ["alpha", "bravo", "charlie"]


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(tmp_path_factory.mktemp("outage-kafka"), port=free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_a_30s_broker_outage_is_ridden_out_by_every_stage(own_broker, prefix, tmp_path: Path, feed_server, hook_server):
    feeds = GrowingFeeds(feed_server, FEEDS)
    receiver = Receiver(hook_server)
    pipe = Pipeline(own_broker.bootstrap, prefix, tmp_path, feeds.feeds_file(tmp_path / "feeds.yaml"),
                    receiver.apprise_config(tmp_path / "apprise.txt"))
    await pipe.ensure_topics()
    ingest, process, notify = pipe.ingest().start(), pipe.process().start(), pipe.notify().start()
    try:
        # before: the pipeline works end to end
        for _ in range(3):
            feeds.add_round()
        await eventually(lambda: feeds.expected_alert_titles() <= set(receiver.titles()), 90,
                         "the first alerts, before the outage", on_fail=pipe.logs)
        first = feeds.all()[0]

        own_broker.stop()
        for stage in pipe.stages:
            stage._mark("broker stopped")
        # during: new entries appear on the feeds while nothing can reach Kafka
        loop = asyncio.get_running_loop()
        back_at = loop.time() + OUTAGE
        while loop.time() < back_at:
            feeds.add_round()
            await asyncio.sleep(3)
        own_broker.start(timeout=120)
        for stage in pipe.stages:
            stage._mark("broker restarted")

        # after: more entries, and a second report of a story alerted on before the outage
        for _ in range(3):
            feeds.add_round()
            await asyncio.sleep(1)
        feeds.follow_up(first, "bravo")
        pipe.assert_alive()  # nobody gave up while the broker was away
        await wait_for_all(pipe, feeds, receiver, timeout=240)
        pipe.assert_alive()
        # Ingest may republish what it sent just as the broker went away (at least once); the
        # processor's dedup must absorb that, and the receiver must see every alert once.
        raw = await pipe.raw_ids()
        await check_exactly_once(pipe, feeds, receiver, raw_may_repeat=set(raw))
        print(f"\n{len(feeds.all())} entries, {len(feeds.expected_alert_titles())} alerts, "
              f"{sum(n - 1 for n in raw.values())} raw republications absorbed")
    finally:
        pipe.stop_all()
        if own_broker.proc is None:  # leave the module's broker running for the next test
            own_broker.start(timeout=120)
