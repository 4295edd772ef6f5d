"""One fix to aiokafka that the processor's at-least-once guarantee depends on.

After a rebalance faust drops the records it fetched while its flow was paused and calls
`seek_to_committed` to read them again. aiokafka 0.14 seeks only when the committed offset is
greater than 0 (`if offset and offset > 0`), so a partition whose committed offset is 0 — a new
topic, or the start `seed_committed_offsets` commits — is not sought back: the dropped records
are never read and the next commit moves past them. This version seeks whenever an offset is
committed, 0 included. Remove it when aiokafka does the same.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError

log = logging.getLogger(__name__)


async def _seek_to_committed(self: AIOKafkaConsumer, *partitions: TopicPartition) -> dict[TopicPartition, int | None]:
    if not all(isinstance(p, TopicPartition) for p in partitions):
        raise TypeError("partitions must be TopicPartition instances")
    if not partitions:
        partitions = tuple(self._subscription.assigned_partitions())
        assert partitions, "No partitions are currently assigned"
    else:
        not_assigned = set(partitions) - self._subscription.assigned_partitions()
        if not_assigned:
            raise IllegalStateError(f"Partitions {not_assigned} are not assigned")
    committed: dict[TopicPartition, int | None] = {}
    for tp in partitions:
        offset = await self.committed(tp)
        committed[tp] = offset
        if offset is not None and offset >= 0:
            self._fetcher.seek_to(tp, offset)
    return committed


def apply() -> None:
    if getattr(AIOKafkaConsumer.seek_to_committed, "__watchfloor__", False):
        return
    _seek_to_committed.__watchfloor__ = True  # type: ignore[attr-defined]
    AIOKafkaConsumer.seek_to_committed = _seek_to_committed  # type: ignore[method-assign]
