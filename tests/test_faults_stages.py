"""Fault tests on the whole pipeline with real parts: each stage SIGKILLed mid-stream and
restarted, and two workers of one group (process, alert) with one SIGKILLed.

Feeds grow on a real local HTTP server while `watchfloor ingest|process|alert|notify` run as
subprocesses against the session's real Kafka broker; alerts are POSTed by Apprise's json://
plugin to a real local HTTP receiver.

What is proved, read with isolation_level=read_committed as every consumer does: the classified
and category topics hold each headline exactly once and the alerts topic each alert exactly once,
whatever is killed (the transactional stages have no crash window: a transaction cut by the kill
is aborted when the partition's next owner starts its producer with the same transactional id).
The two windows left by design are computed from what Kafka held at the kill and allowed only
then: ingest is at least once on the raw topic (a headline sent without its seen marker), and a
notifier killed between a channel's acceptance and its delivery-log record sends that alert again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pytest_httpserver import HTTPServer

from tests.fault_helpers import (
    GrowingFeeds,
    Pipeline,
    Receiver,
    Stage,
    aborted_records,
    assigned_partitions,
    check_exactly_once,
    committed_offsets,
    duplicates,
    eventually,
    group_members,
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


async def _count(counter_coro, at_least: int) -> bool:
    return sum((await counter_coro).values()) >= at_least


# --- one stage killed and restarted ---------------------------------------------------------------


@pytest.mark.parametrize("victim", ["ingest", "process", "alert", "notify"])
async def test_a_stage_killed_mid_stream_and_restarted_loses_nothing_and_duplicates_nothing(
        victim, kafka, prefix, tmp_path, feed_server, hook_server):
    # A slow receiver keeps alerts in flight in the notifier when it is killed.
    feeds, receiver, pipe = build(kafka, prefix, tmp_path, feed_server, hook_server,
                                  delay=0.3 if victim == "notify" else 0.0)
    await pipe.ensure_topics()
    stages = pipe.all_stages()
    for stage in stages.values():
        stage.start()
    target = stages[victim]
    raw_window: set[str] = set()
    receiver_window: set[str] = set()
    try:
        async with streaming(feeds):
            # mid-stream: the victim has done some of the work and more keeps coming
            if victim == "ingest":
                await eventually(lambda: _count(pipe.raw_ids(), 8), 60, "ingest publishing", on_fail=pipe.logs)
            elif victim == "process":
                await eventually(lambda: _count(pipe.classified_ids(), 8), 60, "process classifying", on_fail=pipe.logs)
            elif victim == "alert":
                await eventually(lambda: _count(pipe.alert_ids(), 6), 60, "alert firing", on_fail=pipe.logs)
            else:
                await eventually(lambda: len(receiver.payloads) >= 6, 60, "notify delivering", on_fail=pipe.logs)
            first = feeds.all()[0]
            target.kill()
            await asyncio.sleep(1)  # whatever the dead process had on the wire is now on the broker
            if victim == "ingest":
                # sent but without a seen marker: the one headline per crash the README allows to repeat
                raw_window = set(await pipe.raw_ids()) - await pipe.seen_ids()
            elif victim == "notify":
                # taken by the channel, delivery-log record not on Kafka: the documented window
                delivered = await pipe.delivered_alert_ids()
                titles = await pipe.alert_titles_by_id()
                logged = {titles[a] for a in delivered if a in titles}
                receiver_window = set(receiver.titles()) - logged
            # process and alert: no window at all; whatever the killed transaction held is aborted
            await asyncio.sleep(4)  # entries keep arriving while the stage is down
            target.start()
            await asyncio.sleep(6)
        # a second feed reports a story that alerted before the kill: throttled, not a new alert
        feeds.follow_up(first, "bravo")
        await wait_for_all(pipe, feeds, receiver, timeout=120, watch=pipe.stages)
        pipe.assert_alive()
        await check_exactly_once(pipe, feeds, receiver, raw_may_repeat=raw_window,
                                 receiver_may_repeat=receiver_window)
        aborted = {t: await aborted_records(pipe, t) for t in (pipe.topics.classified, pipe.topics.alerts)}
    finally:
        pipe.stop_all()
    print(f"\n{victim}: {len(feeds.all())} entries, {len(feeds.expected_alert_titles())} alerts, "
          f"raw window {len(raw_window)}, receiver window {len(receiver_window)}, "
          f"aborted records hidden by read_committed: {aborted}")


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


async def test_an_alert_record_repeated_on_the_topic_reaches_a_catching_up_notifier_once(
        kafka, prefix, tmp_path, hook_server):
    """The alert stage writes each alert once, but the alerts topic is a contract others may write
    to too (a replay, an operator re-publishing, a non-transactional producer): the notifier's
    delivery log still sends a repeated alert id once per channel, also when both copies arrive
    in one fetch (a notifier catching up)."""
    receiver = Receiver(hook_server)
    pipe = Pipeline(kafka, prefix, tmp_path, None, receiver.apprise_config(tmp_path / "apprise.txt"))
    await pipe.ensure_topics()
    alerts = [_alert(n) for n in range(5)]
    records = [(a.id.encode(), a.to_bytes()) for a in alerts]
    await produce(pipe.settings, pipe.topics.alerts, records + records)  # each alert, then each copy
    notify = pipe.notify().start()
    try:
        expected = {a.title for a in alerts}
        await eventually(lambda: expected <= set(receiver.titles()), 60, "the alerts at the receiver", on_fail=pipe.logs)
        await asyncio.sleep(3)  # room for the (wrong) second copies
        pipe.assert_alive()
    finally:
        notify.stop()
    twice = duplicates(receiver.titles())
    assert not twice, f"repeated alert records were delivered twice to the same channel: {twice}"


# --- scale-out: two workers of one group, one killed --------------------------------------------------


async def _stable_with(pipe: Pipeline, group: str, members: int) -> bool:
    return await group_members(pipe, group) == members


def _both_hold_partitions(workers: list[Stage]) -> bool:
    return all(assigned_partitions(w) for w in workers)


async def test_two_process_workers_one_killed_the_other_takes_over_without_loss_or_duplicates(
        kafka, prefix, tmp_path, feed_server, hook_server):
    """Steady state: every raw partition has a committed offset when a worker dies mid-stream;
    the survivor fences the dead worker's producers, reads its partitions from their committed
    offsets with their dedup state, and the classified topic holds every headline once."""
    feeds, receiver, pipe = build(kafka, prefix, tmp_path, feed_server, hook_server)
    await pipe.ensure_topics()
    group = f"{prefix}-processors"
    workers = [pipe.process("process-a").start(), pipe.process("process-b").start()]
    try:
        await eventually(lambda: _stable_with(pipe, group, 2), 90, "both workers in the group", on_fail=pipe.logs)
        await eventually(lambda: _both_hold_partitions(workers), 30, "both workers holding partitions", on_fail=pipe.logs)
        others = [pipe.ingest().start(), pipe.alert().start(), pipe.notify().start()]
        async with streaming(feeds):
            every = set(range(pipe.topics.partitions))

            async def all_committed() -> bool:
                return every <= {p for p, o in (await committed_offsets(pipe, group, pipe.topics.raw)).items() if o > 0}

            await eventually(all_committed, 90, "a committed offset on every raw partition", on_fail=pipe.logs)
            await eventually(lambda: len(receiver.payloads) >= 6, 60, "alerts flowing", on_fail=pipe.logs)
            victim, survivor = workers
            lost_partitions = assigned_partitions(victim)
            victim.kill()
            await eventually(lambda: _stable_with(pipe, group, 1), 60, "the group rebalanced to the survivor",
                             on_fail=pipe.logs)
            await eventually(lambda: assigned_partitions(survivor) == sorted(every), 30,
                             "the survivor holding every raw partition", on_fail=pipe.logs)
            await asyncio.sleep(4)  # the survivor now processes everything
        await wait_for_all(pipe, feeds, receiver, timeout=120, watch=[survivor, *others])
        pipe.assert_alive(survivor, *others)
        await check_exactly_once(pipe, feeds, receiver)
    finally:
        pipe.stop_all()
    print(f"\nkilled {victim.name} holding raw partitions {lost_partitions}; {len(feeds.all())} entries")


async def test_two_alert_workers_one_killed_the_other_takes_over_stories_and_throttles(
        kafka, prefix, tmp_path, feed_server, hook_server):
    """The work topic has one key, so one worker runs the alert rules: it is killed, the
    survivor takes its partition with the stories and throttles of its state topic, fires every
    later alert once, and throttles a new report of a story the dead worker alerted on."""
    feeds, receiver, pipe = build(kafka, prefix, tmp_path, feed_server, hook_server)
    await pipe.ensure_topics()
    group = f"{prefix}-alerting"
    workers = [pipe.alert("alert-a").start(), pipe.alert("alert-b").start()]
    try:
        await eventually(lambda: _stable_with(pipe, group, 2), 90, "both alert workers in the group", on_fail=pipe.logs)
        others = [pipe.ingest().start(), pipe.process().start(), pipe.notify().start()]
        async with streaming(feeds):
            await eventually(lambda: len(receiver.payloads) >= 6, 90, "alerts flowing", on_fail=pipe.logs)
            first = feeds.all()[0]
            owner = next((w for w in workers if "alert fired" in w.log_text()), None)
            assert owner is not None, "no alert worker fired an alert\n" + pipe.logs()
            survivor = workers[1] if owner is workers[0] else workers[0]
            assert "alert fired" not in survivor.log_text(), "both workers fired: the rule's work is on one partition"
            owner.kill()
            await eventually(lambda: _stable_with(pipe, group, 1), 60, "the group rebalanced to the survivor",
                             on_fail=pipe.logs)
            await asyncio.sleep(4)  # the survivor now runs the rule
        feeds.follow_up(first, "charlie")  # a story the killed worker alerted on: throttled by the survivor
        await wait_for_all(pipe, feeds, receiver, timeout=120, watch=[survivor, *others])
        pipe.assert_alive(survivor, *others)
        assert "alert fired" in survivor.log_text(), "the survivor never took over the alert rule's partition"
        await check_exactly_once(pipe, feeds, receiver)
    finally:
        pipe.stop_all()


async def test_headlines_arriving_during_a_takeover_on_never_committed_partitions_are_not_lost(kafka, prefix, tmp_path):
    """Two workers of a new deployment; one dies before any of its partitions ever had a message
    or a commit, and headlines arrive on every partition during the takeover: the survivor must
    start those partitions from the beginning (no committed offset) and classify each headline
    exactly once."""
    pipe = Pipeline(kafka, prefix, tmp_path, None, None)
    await pipe.ensure_topics()
    group = f"{prefix}-processors"
    workers = [pipe.process("process-a").start(), pipe.process("process-b").start()]
    try:
        await eventually(lambda: _stable_with(pipe, group, 2), 90, "both workers in the group", on_fail=pipe.logs)
        await eventually(lambda: _both_hold_partitions(workers), 30, "both workers holding partitions", on_fail=pipe.logs)
        victim_partitions = assigned_partitions(workers[1])
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
            at_kill = await committed_offsets(pipe, group, pipe.topics.raw)
            assert not at_kill, f"partitions committed before any message: {at_kill}"
            deadline = asyncio.get_running_loop().time() + 60
            while not await _stable_with(pipe, group, 1):  # headlines keep coming during the takeover
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
            raise AssertionError(f"{len(lost)} of {len(sent)} headlines were never classified (committed raw "
                                 f"offsets: {await committed_offsets(pipe, group, pipe.topics.raw)})\n{pipe.logs()}") from None
        await asyncio.sleep(2)  # room for a (wrong) second copy
        classified = await pipe.classified_ids()
        assert not duplicates(classified), f"classified twice: {duplicates(classified)}"
        assert set(classified) == set(sent)
        assert assigned_partitions(workers[0]) == list(range(pipe.topics.partitions))
        pipe.assert_alive(workers[0])
        assert not await pipe.dead_letters()
    finally:
        pipe.stop_all()
    print(f"\n{len(sent)} headlines; the killed worker held never-committed partitions {victim_partitions}")


# --- a producer fenced with no rebalance after it -----------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".b"])
async def test_a_worker_fenced_without_a_rebalance_keeps_classifying_its_partition(kafka, prefix, tmp_path, suffix):
    """The transaction coordinator bumps a transactional id's epoch without any group change when
    it aborts a transaction that outlived transaction.timeout.ms (60 s in aiokafka: a worker stalled
    that long mid-transaction, or a broker outage that long). Here another producer starts with
    one of the partition's two transactional ids (they take turns), which bumps the epoch the same way. The worker's next
    transaction on that partition is fenced; no rebalance follows, the worker still owns the
    partition, and its headlines must still be classified."""
    pipe = Pipeline(kafka, prefix, tmp_path, None, None)
    await pipe.ensure_topics()
    group = f"{prefix}-processors"
    worker = pipe.process().start()
    try:
        await eventually(lambda: assigned_partitions(worker) == list(range(pipe.topics.partitions)), 90,
                         "the worker holding every raw partition", on_fail=pipe.logs)
        before = [headline(n, f"Missile strike hits {place(n)}") for n in range(6)]
        await produce(pipe.settings, pipe.topics.raw, [(h.id.encode(), h.to_bytes()) for h in before])
        await eventually(lambda: _count(pipe.classified_ids(), len(before)), 60, "the first headlines classified",
                         on_fail=pipe.logs)
        fencer = AIOKafkaProducer(bootstrap_servers=pipe.settings.bootstrap,
                                  transactional_id=f"{group}.{pipe.topics.raw}.0{suffix}")
        await fencer.start()  # InitProducerId: epoch bumped, the worker's producer for partition 0 fenced
        await fencer.stop()
        after = [headline(n, f"Missile strike hits {place(n)}") for n in range(6, 16)]
        producer = AIOKafkaProducer(bootstrap_servers=pipe.settings.bootstrap, acks="all")
        await producer.start()
        try:
            for h in after:
                await producer.send_and_wait(pipe.topics.raw, h.to_bytes(), key=h.id.encode(), partition=0)
        finally:
            await producer.stop()
        wanted = {h.id for h in before + after}

        async def all_classified() -> bool:
            return wanted <= set(await pipe.classified_ids())

        try:
            await eventually(all_classified, 20, "every headline classified")
        except AssertionError:
            missing = sorted(wanted - set(await pipe.classified_ids()))
            raise AssertionError(f"{len(missing)} headlines of raw partition 0 never classified: {missing}; committed "
                                 f"raw offsets {await committed_offsets(pipe, group, pipe.topics.raw)}; the worker "
                                 f"holds {assigned_partitions(worker)}\n{worker.log_tail()}") from None
        assert not duplicates(await pipe.classified_ids())
        pipe.assert_alive()
    finally:
        pipe.stop_all()


# --- an output the broker refuses --------------------------------------------------------------------


async def test_an_output_the_broker_refuses_is_never_committed_past(kafka, prefix, tmp_path):
    """A produce request the broker refuses for good (here: the classified topic's max.message.bytes
    is lowered below one headline's size) fails that output's batch. The headline's raw offset and
    its dedup mark must not commit without its classified record: it is dead-lettered with the
    reason, or retried, but never skipped silently."""
    pipe = Pipeline(kafka, prefix, tmp_path, None, None)
    await pipe.ensure_topics()
    group = f"{prefix}-processors"
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, pipe.topics.classified,
                                                  {"max.message.bytes": "4096"})])
    finally:
        await admin.close()
    worker = pipe.process().start()
    try:
        await eventually(lambda: assigned_partitions(worker) == list(range(pipe.topics.partitions)), 90,
                         "the worker holding every raw partition", on_fail=pipe.logs)
        small = headline(0, "Missile strike hits Zkbbbo")
        big = headline(1, "Missile strike hits Zkbbco", summary="Zkbbco " * 1000)  # ~7 kB: over the limit
        # a small headline whose classified record shares big's classified partition, so that the
        # worker's record batch for that partition holds both and is refused as a whole
        classified_partition = lambda h: (murmur2(h.id.encode()) & 0x7FFFFFFF) % pipe.topics.partitions  # noqa: E731
        neighbour = next(h for h in (headline(n, "Missile strike hits Zkbbdo") for n in range(2, 100))
                         if classified_partition(h) == classified_partition(big))
        producer = AIOKafkaProducer(bootstrap_servers=pipe.settings.bootstrap, acks="all")
        await producer.start()
        try:
            for h in (big, neighbour, small):
                await producer.send(pipe.topics.raw, h.to_bytes(), key=h.id.encode(), partition=0)
            await producer.flush()
        finally:
            await producer.stop()
        await eventually(lambda: _count(pipe.classified_ids(), 2), 60, "the two small headlines classified",
                         on_fail=pipe.logs)
        await asyncio.sleep(3)
        classified = await pipe.classified_ids()
        dead = [d.get("key") for d in await pipe.dead_letters()]
        committed = await committed_offsets(pipe, group, pipe.topics.raw)
        marked = await pipe.dedup_marked_ids()
        letters = {d.get("key"): d for d in await pipe.dead_letters()}
        assert big.id in letters and "MessageSizeTooLarge" in letters[big.id]["reason"], (letters, worker.log_tail())
        assert {small.id, neighbour.id} <= set(classified) and neighbour.id not in letters, (
            "the headline batched with the refused one must be classified, not set aside", dict(classified), letters)
        assert big.id in classified or big.id in dead or committed.get(0, 0) == 0, (
            f"raw partition 0 committed to {committed.get(0)} past {big.id}, which is neither classified nor "
            f"dead-lettered (dedup-marked: {big.id in marked}); classified {dict(classified)}, dead {dead}\n"
            f"{worker.log_tail()}")
    finally:
        pipe.stop_all()
