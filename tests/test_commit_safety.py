"""The processor's offsets never move past a record it did not process (processors/kafka_patches.py).

faust drops records it fetched when a rebalance or a pause interrupts its fetch loop; stock
faust then commits past them (a one-offset hole passes its check; a longer one is filled in as a
"gap"). These tests drive the real faust consumer object of a processor app.
"""

from __future__ import annotations

import pytest

from processors import kafka_patches
from processors.app import build_app
from processors.service import live_rules
from core.settings import Settings

from faust.types import TP

RAW = TP("t.headlines.raw", 0)


@pytest.fixture
def consumer(tmp_path, monkeypatch):
    settings = Settings(bootstrap="127.0.0.1:1", topic_prefix="t", data_dir=tmp_path)
    app = build_app(settings, live_rules(settings))
    app.topics.acks_enabled_for = lambda topic: True  # the raw topic is consumed with acks on
    consumer = app.consumer
    seeks: list[dict] = []

    async def seek_wait(partitions):
        seeks.append(dict(partitions))

    positions: dict = {}  # the fetch position; by default where the committed offset is

    async def position(tp):
        return positions.get(tp, consumer._committed_offset.get(tp))

    monkeypatch.setattr(consumer, "assignment", lambda: {RAW})
    monkeypatch.setattr(consumer, "seek_wait", seek_wait)
    monkeypatch.setattr(consumer, "position", position)
    consumer.seeks, consumer.positions = seeks, positions
    return consumer


class Record:
    def __init__(self, offset: int) -> None:
        self.tp, self.topic, self.offset, self.acked = RAW, RAW.topic, offset, False


def processed(consumer, *offsets: int) -> None:
    for offset in offsets:
        consumer.ack(Record(offset))


def test_offsets_advance_over_processed_records(consumer):
    consumer._committed_offset[RAW] = 10
    processed(consumer, 10, 11, 12)
    assert consumer._filter_committable_offsets([RAW]) == {RAW: 13}


@pytest.mark.parametrize("committed", [0, 10])
def test_a_single_dropped_record_holds_the_commit(consumer, committed):
    consumer._committed_offset[RAW] = committed
    processed(consumer, committed + 1, committed + 2)  # record `committed` was dropped by the fetcher
    assert consumer._filter_committable_offsets([RAW]) == {}
    processed(consumer, committed)  # read again and processed
    assert consumer._filter_committable_offsets([RAW]) == {RAW: committed + 3}


async def test_a_hole_seen_by_the_fetch_loop_is_not_counted_as_processed(consumer):
    consumer._committed_offset[RAW] = 20
    processed(consumer, 20)
    await consumer._add_gap(RAW, 21, 24)  # records 21..24 dropped, 25 arrives
    processed(consumer, 25)
    assert consumer._filter_committable_offsets([RAW]) == {RAW: 21}
    assert consumer._filter_committable_offsets([RAW]) == {}


async def test_a_stalled_partition_is_read_again_then_skipped_only_after_repeated_attempts(consumer, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kafka_patches.time, "monotonic", lambda: clock[0])
    consumer._committed_offset[RAW] = 5
    processed(consumer, 6, 7)
    await kafka_patches.reread_stalled(consumer, after=10)
    assert consumer.seeks == []  # just noticed
    clock[0] += 11
    await kafka_patches.reread_stalled(consumer, after=10)
    assert consumer.seeks == [{RAW: 5}]  # read again from the committed offset
    for _ in range(kafka_patches.REREADS_BEFORE_SKIPPING - 1):
        clock[0] += 11
        await kafka_patches.reread_stalled(consumer, after=10)
    assert len(consumer.seeks) == kafka_patches.REREADS_BEFORE_SKIPPING
    assert consumer._filter_committable_offsets([RAW]) == {}
    clock[0] += 11
    await kafka_patches.reread_stalled(consumer, after=10)  # never delivered: deleted by retention
    assert consumer._filter_committable_offsets([RAW]) == {RAW: 8}


async def test_a_partition_that_catches_up_is_not_read_again(consumer, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kafka_patches.time, "monotonic", lambda: clock[0])
    consumer._committed_offset[RAW] = 5
    processed(consumer, 6)
    await kafka_patches.reread_stalled(consumer, after=10)
    processed(consumer, 5)
    clock[0] += 11
    await kafka_patches.reread_stalled(consumer, after=10)
    assert consumer.seeks == []


class FakeRecovery:
    """The parts of faust's Recovery service the watchdog reads."""

    def __init__(self, started: float, remaining: int = 10) -> None:
        import asyncio

        self.in_recovery, self._recovery_started_at, self.remaining = True, started, remaining
        self._active_events_received_at: dict = {}
        self.signal_recovery_start = asyncio.Event()

    def active_remaining_total(self) -> int:
        return self.remaining


async def test_a_table_recovery_that_receives_nothing_is_restarted_once_per_stall(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kafka_patches.time, "monotonic", lambda: clock[0])
    recovery = FakeRecovery(started=1000.0)
    assert not await kafka_patches.restart_stalled_recovery(recovery, stall=20)
    clock[0] += 21
    assert await kafka_patches.restart_stalled_recovery(recovery, stall=20)
    assert recovery.signal_recovery_start.is_set()  # what a new rebalance sets: seek and resume again
    recovery.signal_recovery_start.clear()
    clock[0] += 5
    assert not await kafka_patches.restart_stalled_recovery(recovery, stall=20)  # give the restart time


async def test_a_recovery_that_makes_progress_or_is_done_is_left_alone(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kafka_patches.time, "monotonic", lambda: clock[0])
    recovery = FakeRecovery(started=1000.0)
    clock[0] += 30
    recovery._active_events_received_at[RAW] = 1025.0  # records arrived 5 s ago
    assert not await kafka_patches.restart_stalled_recovery(recovery, stall=20)
    done = FakeRecovery(started=1000.0, remaining=0)
    assert not await kafka_patches.restart_stalled_recovery(done, stall=20)


async def test_dropped_last_records_of_a_quiet_partition_are_read_again(consumer, monkeypatch):
    """Nothing after them is acknowledged, but the fetch position moved past them."""
    clock = [1000.0]
    monkeypatch.setattr(kafka_patches.time, "monotonic", lambda: clock[0])
    consumer._committed_offset[RAW] = 7
    consumer.positions[RAW] = 9  # records 7 and 8 were fetched, never delivered
    await kafka_patches.reread_stalled(consumer, after=5)
    clock[0] += 6
    await kafka_patches.reread_stalled(consumer, after=5)
    assert consumer.seeks == [{RAW: 7}]


async def test_records_still_being_processed_are_not_read_again(consumer, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(kafka_patches.time, "monotonic", lambda: clock[0])
    consumer._committed_offset[RAW] = 7
    consumer.positions[RAW] = 9
    pending = Record(7)
    consumer._unacked_messages.add(pending)  # in a stream's buffer, or being processed
    for _ in range(3):
        await kafka_patches.reread_stalled(consumer, after=5)
        clock[0] += 6
    processed(consumer, 7, 8)  # done, waiting for the next commit
    consumer._unacked_messages.discard(pending)
    for _ in range(3):
        await kafka_patches.reread_stalled(consumer, after=5)
        clock[0] += 6
    assert consumer.seeks == []
