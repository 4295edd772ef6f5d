"""Writes that hold a consumer's offset (the notifier's delivery log and dead letters) land
however the cluster misbehaves meanwhile: a timed-out or leaderless send is sent again, a
producer that can no longer send is replaced, and only what waiting cannot cure is raised."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError, LeaderNotAvailableError, MessageSizeTooLargeError, OutOfOrderSequenceNumber

from core.durable import DurableProducer
from core.kafka import make_producer, read_to_end
from core.topics import TopicSpec, ensure_topics


class Flaky:
    """A real producer whose first `fail` sends raise the given errors, the way a broker that
    restarts or elects a leader makes aiokafka raise them."""

    def __init__(self, real, errors: list[BaseException]) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.errors = errors
        self.stopped = False

    async def start(self) -> None:
        await self.real.start()

    async def stop(self) -> None:
        self.stopped = True
        await self.real.stop()

    async def partitions_for(self, topic: str) -> set[int]:
        return await self.real.partitions_for(topic)

    async def send(self, topic, value, *, key=None, partition=None):  # type: ignore[no-untyped-def]
        if self.errors:
            error = self.errors.pop(0)
            await asyncio.sleep(0.01)
            raise error
        return await self.real.send(topic, value, key=key, partition=partition)


@pytest.fixture
async def topic(settings) -> str:  # type: ignore[no-untyped-def]
    name = f"{settings.topic_prefix}.durable"
    await ensure_topics(settings, [TopicSpec(name, partitions=1, retention_ms=3_600_000)])
    return name


async def test_a_leaderless_or_timed_out_write_is_sent_again_until_it_lands(settings, topic):
    made = []

    def make():  # type: ignore[no-untyped-def]
        made.append(Flaky(make_producer(settings), [LeaderNotAvailableError(), KafkaTimeoutError()]))
        return made[-1]

    durable = DurableProducer(make, backoff=0.01)
    await durable.start()
    try:
        meta = await durable.send_and_wait(topic, b"delivered", key=b"a:ch")
    finally:
        await durable.stop()
    assert meta.offset == 0 and len(made) == 1  # waited, same producer
    assert await read_to_end(settings, topic) == [(b"a:ch", b"delivered")]


async def test_a_producer_that_lost_its_sequence_is_replaced_and_the_write_lands(settings, topic):
    made = []

    def make():  # type: ignore[no-untyped-def]
        made.append(Flaky(make_producer(settings), [OutOfOrderSequenceNumber()] if not made else []))
        return made[-1]

    durable = DurableProducer(make, backoff=0.01)
    await durable.start()
    try:
        future = await durable.send(topic, b"dead letter", key=b"b")  # the state writers' way: a future
        await future
    finally:
        await durable.stop()
    assert len(made) == 2 and made[0].stopped and durable.producer is made[1]
    assert await read_to_end(settings, topic) == [(b"b", b"dead letter")]


async def test_what_waiting_cannot_cure_is_raised_at_once(settings, topic):
    durable = DurableProducer(lambda: Flaky(make_producer(settings), [MessageSizeTooLargeError()]), backoff=0.01)
    await durable.start()
    try:
        with pytest.raises(MessageSizeTooLargeError):
            await asyncio.wait_for(durable.send_and_wait(topic, b"x"), timeout=10)
    finally:
        await durable.stop()
    assert await read_to_end(settings, topic) == []
