"""Reading a time range of a topic's history: what backtests replay.

A throwaway consumer without a group: it assigns the partitions itself, commits nothing, and
writes nothing, so the live consumer groups never notice it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import TopicPartition

from core.kafka import make_consumer, topic_partitions
from core.settings import ConfigError, Settings


@dataclass(frozen=True)
class Span:
    """Offsets [start, end) per partition, for the records stamped in [since, until)."""

    start: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        return sum(max(0, self.end[tp] - self.start[tp]) for tp in self.start)


async def read_range(
    settings: Settings,
    topic: str,
    since: datetime,
    until: datetime | None = None,
    on_span: Callable[[Span], None] | None = None,
    batch_records: int = 5000,
) -> AsyncIterator[list[tuple[int, bytes | None]]]:
    """Yields batches of (timestamp ms, value) of `topic` stamped in [since, until); `until`
    None means up to the end offsets at call time, so a busy topic still ends the replay."""
    consumer = make_consumer(settings, group_id=None, max_partition_fetch_bytes=4 * 1024 * 1024,
                             fetch_max_bytes=32 * 1024 * 1024, max_poll_records=batch_records)
    try:  # stopped in `finally` even when start fails: no unclosed client
        await consumer.start()
        partitions = await topic_partitions(settings, consumer, topic)
        if not partitions:
            raise ConfigError(f"topic {topic} does not exist (is WATCHFLOOR_TOPIC_PREFIX right?)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        end_now = await consumer.end_offsets(tps)
        start = await _offsets_at(consumer, tps, since, end_now)
        end = await _offsets_at(consumer, tps, until, end_now) if until else end_now
        span = Span(start, end)
        if on_span:
            on_span(span)
        remaining = {tp for tp in tps if end[tp] > start[tp]}
        for tp in remaining:
            consumer.seek(tp, start[tp])
        until_ms = int(until.timestamp() * 1000) if until else None
        since_ms = int(since.timestamp() * 1000)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch_records)
            for tp, records in batches.items():
                stop = end[tp]
                out = [(r.timestamp, r.value) for r in records if r.offset < stop
                       and r.timestamp >= since_ms and (until_ms is None or r.timestamp < until_ms)]
                if records and records[-1].offset >= stop - 1:
                    remaining.discard(tp)
                if out:
                    yield out
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()


async def _offsets_at(consumer, tps: list[TopicPartition], when: datetime, end: dict[TopicPartition, int]) -> dict[TopicPartition, int]:  # type: ignore[no-untyped-def]
    found = await consumer.offsets_for_times({tp: int(when.timestamp() * 1000) for tp in tps})
    return {tp: (found[tp].offset if found.get(tp) is not None else end[tp]) for tp in tps}
