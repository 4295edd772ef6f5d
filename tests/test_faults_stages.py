"""Fault tests on the whole pipeline with real parts: each stage SIGKILLed mid-stream and
restarted, and two processor workers of one group with one SIGKILLed.

Feeds grow on a real local HTTP server while `watchfloor ingest|process|notify` run as
subprocesses against the session's real Kafka broker; alerts are POSTed by Apprise's json://
plugin to a real local HTTP receiver. A duplicate is only accepted inside the crash window the
README documents, computed from what Kafka held at the moment of the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pytest_httpserver import HTTPServer

from tests.fault_helpers import (
    GrowingFeeds,
    Pipeline,
    Receiver,
    check_exactly_once,
    duplicates,
    eventually,
    place,
    wait_for_all,
)
from tests.kafka_helpers import headline, produce
from core.contracts import Alert

FEEDS = ["alpha", "bravo", "charlie"]


@contextlib.asynccontextmanager
async def streaming(feeds: GrowingFeeds, every: float = 0.5):
    """Adds a round of entries every `every` s until the block ends: the stream the faults hit."""
    stop = asyncio.Event()

    async def run() -> None:
        while not stop.is_set():
            feeds.add_round()
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        stop.set()
        await task


def build(kafka: str, prefix: str, tmp_path: Path, feed_server: HTTPServer, hook_server: HTTPServer,
          delay: float = 0.0) -> tuple[GrowingFeeds, Receiver, Pipeline]:
    feeds = GrowingFeeds(feed_server, FEEDS)
    receiver = Receiver(hook_server, delay=delay)
    pipe = Pipeline(kafka, prefix, tmp_path, feeds.feeds_file(tmp_path / "feeds.yaml"),
                    receiver.apprise_config(tmp_path / "apprise.txt"))
    return feeds, receiver, pipe


@pytest.mark.parametrize("victim", ["ingest", "process", "notify"])
async def test_a_stage_killed_mid_stream_and_restarted_loses_nothing_and_alerts_once(
        victim, kafka, prefix, tmp_path, feed_server, hook_server):
    # A slow receiver keeps alerts in flight in the notifier when it is killed.
    feeds, receiver, pipe = build(kafka, prefix, tmp_path, feed_server, hook_server,
                                  delay=0.3 if victim == "notify" else 0.0)
    await pipe.ensure_topics()
    stages = {"ingest": pipe.ingest(), "process": pipe.process(), "notify": pipe.notify()}
    for stage in stages.values():
        stage.start()
    target = stages[victim]
    raw_window: set[str] = set()
    receiver_window: set[str] = set()
    classified_window: set[str] = set()
    try:
        async with streaming(feeds):
            # mid-stream: the victim has done some of the work and more keeps coming
            if victim == "ingest":
                await eventually(lambda: _count(pipe.raw_ids(), 8), 60, "ingest publishing", on_fail=pipe.logs)
            elif victim == "process":
                await eventually(lambda: _count(pipe.classified_ids(), 8), 60, "process classifying", on_fail=pipe.logs)
            else:
                await eventually(lambda: len(receiver.payloads) >= 6, 60, "notify delivering", on_fail=pipe.logs)
            first = feeds.all()[0]
            target.kill()
            await asyncio.sleep(1)  # whatever the dead process had on the wire is now on the broker
            if victim == "ingest":
                # sent but without a seen marker: the one headline per crash the README allows to repeat
                raw_window = set(await pipe.raw_ids()) - await pipe.seen_ids()
            elif victim == "process":
                # classified but not marked done: the documented at-least-once window of `process`
                classified_window = set(await pipe.classified_ids()) - await pipe.dedup_marked_ids()
            else:
                # taken by the channel, delivery-log record not on Kafka: the documented window
                delivered = await pipe.delivered_alert_ids()
                titles = await pipe.alert_titles_by_id()
                logged = {titles[a] for a in delivered if a in titles}
                receiver_window = set(receiver.titles()) - logged
            await asyncio.sleep(4)  # entries keep arriving while the stage is down
            target.start()
            await asyncio.sleep(6)
        # a second feed reports a story that alerted before the kill: throttled, not a new alert
        feeds.follow_up(first, "bravo")
        await wait_for_all(pipe, feeds, receiver, timeout=120)
        pipe.assert_alive()
        await check_exactly_once(pipe, feeds, receiver, raw_may_repeat=raw_window,
                                 classified_may_repeat=classified_window, receiver_may_repeat=receiver_window)
    finally:
        pipe.stop_all()
    print(f"\n{victim}: {len(feeds.all())} entries, {len(feeds.expected_alert_titles())} alerts, "
          f"raw window {len(raw_window)}, classified window {len(classified_window)}, receiver window {len(receiver_window)}")


async def _count(counter_coro, at_least: int) -> bool:
    return sum((await counter_coro).values()) >= at_least


# --- one alert twice on the topic ------------------------------------------------------------------


def _alert(n: int) -> Alert:
    now = datetime.now(timezone.utc)
    title = f"Missile strike hits {place(n)}"
    return Alert.model_validate(dict(
        id=f"alert-{n:04d}-{uuid.uuid4().hex[:8]}", rule_id="strikes", severity="high", group_by="story",
        group=f"story-{n}", story_id=f"story-{n}", title=title, summary="", categories=["airstrike"],
        matched=["missile*"], reports=[{"headline_id": f"h{n}", "source": "Feed alpha", "title": title,
                                        "link": f"https://alpha.example/{n}"}],
        source_count=1, first_seen=now, fired=now, notify=["ops"], rules_version="v1"))


async def test_an_alert_re_sent_by_a_crashed_processor_reaches_a_catching_up_notifier_once(
        kafka, prefix, tmp_path, hook_server):
    """A processor killed after an alert's ack and before its throttle and offset reach Kafka
    re-fires the same alert (same deterministic id) when it restarts: the README counts on the
    notifier's delivery log to send it once. When the notifier is behind (it was down too, or is
    catching up after a broker outage) both records are in one fetch."""
    receiver = Receiver(hook_server)
    pipe = Pipeline(kafka, prefix, tmp_path, None, receiver.apprise_config(tmp_path / "apprise.txt"))
    await pipe.ensure_topics()
    alerts = [_alert(n) for n in range(5)]
    records = [(a.id.encode(), a.to_bytes()) for a in alerts]
    await produce(pipe.settings, pipe.topics.alerts, records + records)  # each alert, then each re-fired copy
    notify = pipe.notify().start()
    try:
        expected = {a.title for a in alerts}
        await eventually(lambda: expected <= set(receiver.titles()), 60, "the alerts at the receiver", on_fail=pipe.logs)
        await asyncio.sleep(3)  # room for the (wrong) second copies
        pipe.assert_alive()
    finally:
        notify.stop()
    twice = duplicates(receiver.titles())
    assert not twice, f"re-sent alert records were delivered twice to the same channel: {twice}"


# --- scale-out: two processor workers, one killed ------------------------------------------------------


async def _group_members(pipe: Pipeline) -> int:
    """Members of the processors' consumer group once it is stable (0 while it rebalances)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.bootstrap)
    await admin.start()
    try:
        [group] = await admin.describe_consumer_groups([f"{pipe.topics.prefix}-processors"])
    except KafkaError:  # no coordinator for the group yet
        return 0
    finally:
        await admin.close()
    # DescribeGroups: groups[i] = (error_code, group_id, state, protocol_type, protocol, members, ...)
    state, members = group.groups[0][2], group.groups[0][5]
    return len(members) if state == "Stable" else 0


async def _stable_with(pipe: Pipeline, members: int) -> bool:
    return await _group_members(pipe) == members


async def _committed_partitions(pipe: Pipeline, topic: str) -> set[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{pipe.topics.prefix}-processors")
    except KafkaError:
        return set()
    finally:
        await admin.close()
    return {tp.partition for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0}


async def test_two_processor_workers_one_killed_the_other_takes_over_without_loss_or_double_alerts(
        kafka, prefix, tmp_path, feed_server, hook_server):
    """Steady state: every raw partition has a committed offset when the worker dies."""
    feeds, receiver, pipe = build(kafka, prefix, tmp_path, feed_server, hook_server)
    await pipe.ensure_topics()
    workers = [pipe.process("process-a"), pipe.process("process-b")]
    for w in workers:
        w.start()
    try:
        await eventually(lambda: _stable_with(pipe, 2), 90, "both workers in the group", on_fail=pipe.logs)
        ingest, notify = pipe.ingest().start(), pipe.notify().start()
        async with streaming(feeds):
            every = set(range(pipe.topics.partitions))
            await eventually(lambda: _has_all(_committed_partitions(pipe, pipe.topics.raw), every), 90,
                             "a committed offset on every raw partition", on_fail=pipe.logs)
            await eventually(lambda: len(receiver.payloads) >= 10, 60, "alerts flowing", on_fail=pipe.logs)
            first = feeds.all()[0]
            # Kill the worker that runs the alert rule's partition (it logs "alert fired"), so its
            # story and throttle tables must move to the survivor.
            owner = next((w for w in workers if "alert fired" in w.log_text()), workers[0])
            survivor = workers[1] if owner is workers[0] else workers[0]
            owner.kill()
            await asyncio.sleep(1)
            classified_window = set(await pipe.classified_ids()) - await pipe.dedup_marked_ids()
            await eventually(lambda: _stable_with(pipe, 1), 60, "the group rebalanced to the survivor", on_fail=pipe.logs)
            await asyncio.sleep(4)  # the survivor now processes everything
        feeds.follow_up(first, "charlie")  # a story the killed worker alerted on: throttled by the survivor
        await wait_for_all(pipe, feeds, receiver, timeout=120)
        pipe.assert_alive(survivor, ingest, notify)
        assert "alert fired" in survivor.log_text(), "the survivor never took over the alert rule's partition"
        await check_exactly_once(pipe, feeds, receiver, classified_may_repeat=classified_window)
    finally:
        pipe.stop_all()


async def _has_all(coro, wanted: set[int]) -> bool:
    return wanted <= await coro


async def test_headlines_arriving_during_a_takeover_on_never_committed_partitions_are_not_lost(kafka, prefix, tmp_path):
    """Two workers of a new deployment; one dies while headlines arrive on partitions that never
    had a message before (a quiet partition, a fresh prefix): every headline must be classified.
    (faust drops what it fetched during the rebalance; processors/kafka_patches.py keeps its
    commits from passing a dropped record and reads such records again.)"""
    pipe = Pipeline(kafka, prefix, tmp_path, None, None)
    await pipe.ensure_topics()
    workers = [pipe.process("process-a").start(), pipe.process("process-b").start()]
    try:
        await eventually(lambda: _stable_with(pipe, 2), 90, "both workers in the group", on_fail=pipe.logs)
        producer = AIOKafkaProducer(bootstrap_servers=pipe.settings.bootstrap, acks="all")
        await producer.start()
        sent: list[str] = []

        async def burst() -> None:
            for p in range(pipe.topics.partitions):
                h = headline(len(sent), f"Missile strike hits {place(len(sent))}")
                sent.append(h.id)
                await producer.send_and_wait(pipe.topics.raw, h.to_bytes(), key=h.id.encode(), partition=p)

        try:
            workers[1].kill()
            deadline = asyncio.get_running_loop().time() + 60
            while not await _stable_with(pipe, 1):  # headlines keep coming during the takeover
                assert asyncio.get_running_loop().time() < deadline, pipe.logs()
                await burst()
                await asyncio.sleep(0.3)
            for _ in range(5):
                await burst()
                await asyncio.sleep(0.3)
        finally:
            await producer.stop()

        async def all_classified() -> bool:
            return set(sent) <= set(await pipe.classified_ids())

        try:
            await eventually(all_classified, 60, "every headline on the classified topic")
        except AssertionError:
            lost = set(sent) - set(await pipe.classified_ids())
            raise AssertionError(f"{len(lost)} of {len(sent)} headlines were never classified "
                                 f"(committed raw offsets: {await _committed_offsets(pipe)})") from None
        pipe.assert_alive(workers[0])
    finally:
        pipe.stop_all()


async def _committed_offsets(pipe: Pipeline) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{pipe.topics.prefix}-processors")
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in sorted(offsets.items()) if tp.topic == pipe.topics.raw}
