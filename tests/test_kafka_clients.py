"""The Kafka client helpers every stage uses (core/kafka.py), on the real broker."""

from __future__ import annotations

from core.kafka import make_consumer
from core.settings import Settings


async def test_a_consumer_stopped_right_after_start_stops_cleanly(kafka):
    """aiokafka's group-less consumer re-raises a CancelledError from stop() when its reset task
    never ran; a state load of an empty partition list does exactly that."""
    for _ in range(3):
        consumer = make_consumer(Settings(bootstrap=kafka), group_id=None)
        await consumer.start()
        await consumer.stop()


