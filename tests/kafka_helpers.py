"""Producing to and reading from the real test broker."""

from __future__ import annotations

import asyncio
import json
import time

from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer

from core.contracts import RawHeadline
from core.topics import Topics

from core.kafka import read_to_end
from core.settings import Settings


async def produce(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def wait_for_messages(settings: Settings, topic: str, count: int, timeout: float = 30.0) -> list[dict]:
    """Polls the topic until it holds at least `count` messages; returns them all, decoded."""
    deadline = time.monotonic() + timeout
    records: list = []
    while time.monotonic() < deadline:
        records = await read_to_end(settings, topic)
        if len(records) >= count:
            return [json.loads(v) for _, v in records]
        await asyncio.sleep(0.3)
    raise AssertionError(f"{topic}: expected {count} messages within {timeout}s, found {len(records)}")


def headline(n: int, title: str, summary: str = "") -> RawHeadline:
    return RawHeadline(id=f"h{n:04d}", feed_id="test", source="Test Wire", title=title, summary=summary,
                       link=f"https://wire.example/{n}", fetched=datetime.now(timezone.utc))


async def send(settings, *items: RawHeadline) -> None:
    await produce(settings, Topics(settings.topic_prefix).raw, [(h.id.encode(), h.to_bytes()) for h in items])
