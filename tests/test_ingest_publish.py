"""A producer that can never send again (the broker lost its sequence, e.g. restarted mid-send)
is replaced: the headlines of the failed poll are published by the next one, nothing is lost."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from core.contracts import RawHeadline
from core.kafka import read_to_end
from core.topics import Topics, ensure_topics
from ingest.publish import HeadlinePublisher


class DeadProducer:
    """Stands in for an aiokafka producer whose sender task ended with OutOfOrderSequenceNumber:
    a state a real broker gives only by chance (a restart while a batch is in flight)."""

    def __init__(self) -> None:
        self.stopped = False

    async def start(self) -> None:
        pass

    async def send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        import asyncio

        await asyncio.sleep(0.05)  # the batch in flight when the broker answers so: every poll holds it
        raise OutOfOrderSequenceNumber()

    async def stop(self) -> None:
        self.stopped = True


async def test_a_producer_that_cannot_send_again_is_replaced_and_the_next_poll_publishes(settings):
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, topics.specs())
    dead = DeadProducer()
    publisher = HeadlinePublisher(settings, topics, producer=dead)  # type: ignore[arg-type]
    await publisher.start()
    headline = RawHeadline(id="h-after-restart", feed_id="f", source="S", title="Missile strike on Odesa",
                           fetched=datetime.now(timezone.utc))
    with pytest.raises(OutOfOrderSequenceNumber):
        await publisher.publish([headline])
    assert dead.stopped and publisher.producer is not dead
    try:
        await publisher.publish([headline])  # the poll after: a new, real producer
    finally:
        await publisher.stop()
    raw = await read_to_end(settings, topics.raw)
    assert [RawHeadline.from_bytes(v).id for _, v in raw] == ["h-after-restart"]


async def test_concurrent_polls_replace_a_dead_producer_once_and_all_publish_after(settings, monkeypatch):
    """Every feed publishes at once: several failures of one producer replace it once, and the
    next round of polls all publish through one started producer."""
    import asyncio

    import ingest.publish

    made = []
    real_make = ingest.publish.make_producer
    monkeypatch.setattr(ingest.publish, "make_producer", lambda *a, **k: made.append(1) or real_make(*a, **k))
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, topics.specs())
    dead = DeadProducer()
    publisher = HeadlinePublisher(settings, topics, producer=dead)  # type: ignore[arg-type]
    await publisher.start()
    now = datetime.now(timezone.utc)
    batch = [[RawHeadline(id=f"f{i}-{j}", feed_id=f"f{i}", source="S", title=f"t{i}{j}", fetched=now) for j in range(2)]
             for i in range(5)]
    first = await asyncio.gather(*(publisher.publish(b) for b in batch), return_exceptions=True)
    assert all(isinstance(r, OutOfOrderSequenceNumber) for r in first)
    replacement = publisher.producer
    assert replacement is not dead and dead.stopped
    try:
        assert await asyncio.gather(*(publisher.publish(b) for b in batch)) == [None] * 5
        assert publisher.producer is replacement and len(made) == 1  # replaced once, not once per failed poll
    finally:
        await publisher.stop()
    raw = await read_to_end(settings, topics.raw)
    assert sorted(RawHeadline.from_bytes(v).id for _, v in raw) == sorted(h.id for b in batch for h in b)
