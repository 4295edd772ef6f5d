"""`watchfloor tail`: what flows on a topic, as JSON lines, without joining a consumer group."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from aiokafka import TopicPartition

from core.kafka import make_consumer, topic_partitions
from core.settings import ConfigError, Settings
from core.topics import Topics


async def tail_topic(
    settings: Settings,
    topic: str,
    from_beginning: bool = False,
    limit: int | None = None,
    follow: bool = True,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    name = Topics(settings.topic_prefix).resolve(topic)
    consumer = make_consumer(settings, group_id=None)
    try:
        await consumer.start()
        partitions = await topic_partitions(settings, consumer, name)
        if not partitions:
            raise ConfigError(f"topic {name!r} does not exist")
        tps = [TopicPartition(name, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        end = await consumer.end_offsets(tps)
        count = 0
        stop = stop or asyncio.Event()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    yield _render(record.value, record.key)
                    count += 1
                    if limit is not None and count >= limit:
                        return
            if not follow and all([await consumer.position(tp) >= end[tp] for tp in tps]):
                return
    finally:
        await consumer.stop()


def _render(value: bytes | None, key: bytes | None = None) -> str:
    """A message as one JSON line; a tombstone (a compacted topic's deletion: a merged event, an
    expired silence) as `{"key": …, "deleted": true}`, so that a reader knows what went."""
    if value is None:
        return json.dumps({"key": key.decode("utf-8", "replace") if key is not None else None, "deleted": True})
    try:
        return json.dumps(json.loads(value), ensure_ascii=False)
    except ValueError:
        return json.dumps(value.decode("utf-8", "replace"), ensure_ascii=False)
