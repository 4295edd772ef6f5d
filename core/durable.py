"""A producer for writes that must land before a consumer's offset may pass the message they
settle (the notifier's delivery log and dead letters): a send that fails because the cluster is
away or electing a leader is sent again, and a producer that can no longer send is replaced.

aiokafka gives up on a batch after `request_timeout_ms` (a 30 s broker restart outlasts it) and
its idempotent producer stops for good when the broker lost its sequence. Neither may end a
stage: the record is still owed, and the offset is held until it lands. Errors that waiting
cannot cure (a record too large, a topic not authorised) are raised at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)
from aiokafka.structs import RecordMetadata

log = logging.getLogger("watchfloor.kafka")

# Errors after which an idempotent producer cannot send again (aiokafka's sender task ends with
# them): the broker lost or rejected the producer's sequence, e.g. when it restarted mid-send.
FATAL = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced, ProducerClosed)


def producer_is_dead(exc: BaseException) -> bool:
    """The listed errors, and aiokafka's bare KafkaError, which its sender task ends with on any
    unexpected failure (every later send then raises it again)."""
    return isinstance(exc, FATAL) or type(exc) is KafkaError


def worth_waiting(exc: BaseException) -> bool:
    """A failure that time cures: the cluster away, a leader being elected, a batch timed out."""
    return isinstance(exc, KafkaTimeoutError) or (isinstance(exc, KafkaError) and exc.retriable) or isinstance(exc, OSError)


class DurableProducer:
    """The subset of AIOKafkaProducer the state and dead-letter writers use (`send`,
    `send_and_wait`, `partitions_for`), with sends that are retried until acknowledged."""

    def __init__(self, make: Callable[[], AIOKafkaProducer], *, backoff: float = 0.5, max_backoff: float = 5.0) -> None:
        self._make = make
        self.producer = make()
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._started: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def start(self) -> None:
        async with self._lock:
            await self._ensure_started()

    async def stop(self) -> None:
        """Stops the producer; sends still retrying end with ProducerClosed."""
        self._closed = True
        await self.producer.stop()

    async def _ensure_started(self) -> AIOKafkaProducer:
        producer = self.producer
        if self._started is not producer:
            await producer.start()
            self._started = producer
        return producer

    async def _replace(self, failed: AIOKafkaProducer, why: BaseException) -> None:
        """A new producer for the next attempt, unless `failed` was replaced already."""
        async with self._lock:
            if self.producer is not failed:
                return
            log.warning("the Kafka producer cannot send (%s); a new one takes over", type(why).__name__)
            self.producer = self._make()
        try:
            await failed.stop()
        except (KafkaError, OSError) as exc:  # it is dead already; closing it is best effort
            log.info("closing the failed producer: %s", exc)

    async def partitions_for(self, topic: str) -> set[int]:
        async with self._lock:
            producer = await self._ensure_started()
        return await producer.partitions_for(topic)

    async def send_and_wait(self, topic: str, value: bytes | None, *, key: bytes | None = None,
                            partition: int | None = None) -> RecordMetadata:
        """Returns once the broker acknowledged the record, however many attempts that took."""
        delay = self.backoff
        attempt = 0
        loop = asyncio.get_running_loop()
        first_failure = said = 0.0
        while True:
            if self._closed:
                raise ProducerClosed()
            attempt += 1
            producer = self.producer
            started = False
            try:
                async with self._lock:
                    producer = await self._ensure_started()
                started = True
                return await (await producer.send(topic, value, key=key, partition=partition))
            except Exception as exc:  # noqa: BLE001 - sorted below: fatal, worth waiting, or raised
                dead = producer_is_dead(exc)
                if not dead and not worth_waiting(exc):
                    raise
                if dead or not started:  # a producer whose start failed is not started again
                    await self._replace(producer, exc)
                now = loop.time()
                if attempt == 1:
                    first_failure = said = now
                    log.warning("a write to %s was not acknowledged (%s); sending it again until it is",
                                topic, type(exc).__name__)
                elif now - said >= 30:  # a topic that does not exist also waits here: say so, not once
                    said = now
                    log.warning("a write to %s still not acknowledged after %.0f s and %d attempts (%s)",
                                topic, now - first_failure, attempt, type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(self.max_backoff, delay * 2)

    async def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
                   partition: int | None = None) -> asyncio.Future[RecordMetadata]:
        """Like AIOKafkaProducer.send: returns a future of the acknowledgement."""
        return asyncio.ensure_future(self.send_and_wait(topic, value, key=key, partition=partition))
