"""Record batches land where aiokafka's own `send` puts the same keys, in order, inside a
transaction that read_committed readers see whole (core/batch_send.py), on the real broker."""

from __future__ import annotations

from collections import defaultdict

from aiokafka import TopicPartition

from core.batch_send import send_batched, send_each
from core.kafka import make_consumer, make_producer, records_to_end
from core.stage import Output
from core.topics import TopicSpec, ensure_topics


async def _read(settings, topic: str, partitions: int) -> dict[int, list[tuple[bytes, bytes]]]:
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        async for r in records_to_end(consumer, tps):
            out[r.partition].append((r.key, r.value))
        return out
    finally:
        await consumer.stop()


async def test_batched_records_land_where_send_puts_their_keys(settings, prefix):
    plain, batched, single = f"{prefix}.plain", f"{prefix}.batched", f"{prefix}.single"
    await ensure_topics(settings.bootstrap, [TopicSpec(t, 6, 3600_000, False) for t in (plain, batched, single)])
    keys = [f"h{i:04d}".encode() for i in range(300)]
    producer = make_producer(settings)
    await producer.start()
    try:
        for k in keys:
            await producer.send(plain, k + b"-v", key=k)
        await producer.flush()
    finally:
        await producer.stop()
    txn = make_producer(settings, transactional_id=f"{prefix}-batch-test")
    await txn.start()
    try:
        for topic, send in ((batched, send_batched), (single, send_each)):
            await txn.begin_transaction()
            failures = await send(txn, [(Output(topic, k, k + b"-v"), i) for i, k in enumerate(keys)])
            assert failures == []
            await txn.commit_transaction()
    finally:
        await txn.stop()
    expected = await _read(settings, plain, 6)
    assert await _read(settings, batched, 6) == expected
    assert await _read(settings, single, 6) == expected
