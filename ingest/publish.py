"""Publishing headlines to the raw topic, and recording them as seen, acknowledged by Kafka."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from core.contracts import RawHeadline
from core.durable import producer_is_dead
from core.kafka import make_producer
from core.settings import Settings
from core.topics import Topics

log = logging.getLogger("watchfloor.ingest")


class HeadlinePublisher:
    """Every feed's poll publishes through it concurrently: starting and replacing the producer
    are serialised, and a failure replaces only the producer that failed (not a newer one)."""

    def __init__(self, settings: Settings, topics: Topics, producer: AIOKafkaProducer | None = None) -> None:
        self.settings = settings
        self.topics = topics
        self.producer = producer or make_producer(settings)
        self._started: AIOKafkaProducer | None = None  # the producer that was started
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            await self._start()

    async def _start(self) -> None:
        if self._started is not self.producer:
            await self.producer.start()
            self._started = self.producer

    async def stop(self) -> None:
        await self.producer.stop()

    async def _replace(self, failed: AIOKafkaProducer, why: BaseException, quiet: bool = False) -> None:
        """A new producer for the next publish, unless `failed` was replaced already; the failed
        one is closed. `quiet`: a start that failed while Kafka is away, which the poll's own
        failure line already reports."""
        if self.producer is not failed:
            return
        if not quiet:
            log.warning("the Kafka producer cannot send (%s); a new one takes over", type(why).__name__)
        self.producer = make_producer(self.settings)
        try:
            await failed.stop()
        except (KafkaError, OSError) as exc:  # it is dead already; closing it is best effort
            log.info("closing the failed producer: %s", exc)

    async def publish(self, headlines: list[RawHeadline]) -> None:
        """Returns once the broker acknowledged every headline and its seen marker.

        The headline is sent before its marker; a crash between the two republishes it on
        restart (at-least-once), which the processor's dedup by id absorbs. A producer that can
        no longer send is replaced, and the error raised: nothing was marked seen, so the next
        poll publishes these headlines again.
        """
        if not headlines:
            return
        async with self._lock:
            producer = self.producer
            if self._started is not producer:  # a replacement, started when Kafka answers again
                try:
                    await self._start()
                except (KafkaError, OSError) as exc:
                    await self._replace(producer, exc, quiet=True)
                    raise
        now = datetime.now(timezone.utc).isoformat()
        try:
            sends = []
            for h in headlines:
                key = h.id.encode()
                sends.append(await producer.send(self.topics.raw, h.to_bytes(), key=key))
            for h in headlines:
                marker = json.dumps({"schema": "ingest.seen/1", "feed_id": h.feed_id, "at": now}).encode()
                sends.append(await producer.send(self.topics.ingest_seen, marker, key=h.id.encode()))
            await asyncio.gather(*sends)
        except KafkaError as exc:
            if producer_is_dead(exc):
                async with self._lock:
                    await self._replace(producer, exc)
            raise
