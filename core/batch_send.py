"""Sending a transaction's outputs as one record batch per topic partition.

aiokafka's `send` costs a serializer pass, a partition lookup, an accumulator append and a future
per record: about a fifth of the classify stage's time at two to three outputs per headline. A
batch built with the producer's public `create_batch` and handed over with `send_batch` pays that
once per partition. Partitions are chosen as `send` chooses them (the default murmur2 partitioner
over all of the topic's partitions), so a key lands where any Kafka producer would put it.

The broker accepts or refuses a batch as a whole: a refusal names no record. `send_each` puts
each record in a batch of its own, so that the caller, told by `send_batched` that a batch was
refused, can find out which input it was on its retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner


class Record(Protocol):
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None


# A record to send and the input offset it came from (None: not from an input, e.g. a tick).
Tagged = tuple[Record, int | None]
# The input offsets of a failed send, and why it failed.
Failure = tuple[tuple[int | None, ...], BaseException]

_PARTITIONER = DefaultPartitioner()


async def send_each(producer: AIOKafkaProducer, outputs: Sequence[Tagged]) -> list[Failure]:
    """Each record in a batch of its own (`send` would let the accumulator put records of one
    partition in one produce batch, and a refusal would again name none of them); every failure
    carries the one input offset it came from. Slow: only for finding a refused record."""
    partitions: dict[str, list[int]] = {}
    pending: list[tuple[asyncio.Future, int | None]] = []
    for record, offset in outputs:
        partition = await _partition(producer, record, partitions)
        batch = producer.create_batch()
        batch.append(timestamp=None, key=record.key, value=record.value)
        pending.append((await producer.send_batch(batch, record.topic, partition=partition), offset))
    results = await asyncio.gather(*(f for f, _ in pending), return_exceptions=True)
    return [((pending[i][1],), r) for i, r in enumerate(results) if isinstance(r, BaseException)]


async def _partition(producer: AIOKafkaProducer, record: Record, known: dict[str, list[int]]) -> int:
    """The record's own partition, or the one `send` would pick for its key."""
    if record.partition is not None:
        return record.partition
    partitions = known.get(record.topic)
    if partitions is None:
        partitions = known[record.topic] = sorted(await producer.partitions_for(record.topic))
    return _PARTITIONER(record.key, partitions, partitions)


async def send_batched(producer: AIOKafkaProducer, outputs: Sequence[Tagged]) -> list[Failure]:
    """The records grouped by topic partition (order kept within each), one batch per partition
    (more where a batch fills up); a failure carries the input offsets of its whole batch."""
    partitions: dict[str, list[int]] = {}
    groups: dict[tuple[str, int], list[Tagged]] = {}
    for item in outputs:
        partition = await _partition(producer, item[0], partitions)
        groups.setdefault((item[0].topic, partition), []).append(item)
    pending: list[tuple[asyncio.Future, list[int | None]]] = []
    for (topic, partition), items in groups.items():
        batch, offsets = producer.create_batch(), []
        for record, offset in items:
            if batch.append(timestamp=None, key=record.key, value=record.value) is None:  # full
                pending.append((await producer.send_batch(batch, topic, partition=partition), offsets))
                batch, offsets = producer.create_batch(), []
                batch.append(timestamp=None, key=record.key, value=record.value)  # a batch's first record always fits
            offsets.append(offset)
        pending.append((await producer.send_batch(batch, topic, partition=partition), offsets))
    results = await asyncio.gather(*(f for f, _ in pending), return_exceptions=True)
    return [(tuple(pending[i][1]), r) for i, r in enumerate(results) if isinstance(r, BaseException)]
