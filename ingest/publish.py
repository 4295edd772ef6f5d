"""Publishing headlines to the raw topic, and recording them as seen, acknowledged by Kafka."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer

from core.contracts import RawHeadline
from core.kafka import make_producer
from core.settings import Settings
from core.topics import Topics


class HeadlinePublisher:
    def __init__(self, settings: Settings, topics: Topics, producer: AIOKafkaProducer | None = None) -> None:
        self.topics = topics
        self.producer = producer or make_producer(settings)

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, headlines: list[RawHeadline]) -> None:
        """Returns once the broker acknowledged every headline and its seen marker.

        The headline is sent before its marker; a crash between the two republishes it on
        restart (at-least-once), which the processor's dedup by id absorbs.
        """
        if not headlines:
            return
        now = datetime.now(timezone.utc).isoformat()
        sends = []
        for h in headlines:
            key = h.id.encode()
            sends.append(await self.producer.send(self.topics.raw, h.to_bytes(), key=key))
        for h in headlines:
            marker = json.dumps({"schema": "ingest.seen/1", "feed_id": h.feed_id, "at": now}).encode()
            sends.append(await self.producer.send(self.topics.ingest_seen, marker, key=h.id.encode()))
        await asyncio.gather(*sends)
