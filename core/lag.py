"""Consumer lag as a metric: how far a consumer group is behind the end of its topic."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from core.kafka import client_kwargs, make_consumer
from core.metrics import CONSUMER_LAG
from core.settings import Settings

log = logging.getLogger("watchfloor.lag")


async def group_lag(settings: Settings, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    consumer = make_consumer(settings, group_id=None)
    try:
        await admin.start()
        await consumer.start()
        committed = await admin.list_consumer_group_offsets(group)
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return 0
        end = await consumer.end_offsets(tps)
        lag = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(0, end[tp] - done)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def report_lag(settings: Settings, group: str, topic: str, interval: float = 15.0) -> None:
    """Runs for the life of the stage; a failed reading is logged at debug and retried."""
    while True:
        try:
            CONSUMER_LAG.labels(group, topic).set(await group_lag(settings, group, topic))
        except Exception as exc:  # the broker may be away; lag is information, never a failure
            log.debug("consumer lag not read: %s", exc)
        await asyncio.sleep(interval)
