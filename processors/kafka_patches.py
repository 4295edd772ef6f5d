"""Fixes to aiokafka 0.14 and faust-streaming 0.15.3 that the processor's at-least-once
guarantee depends on (both versions are pinned in pyproject.toml; re-check on upgrade).

faust loses records in two steps. First, its fetch loop drops records it already took from the
consumer when a rebalance starts, when the flow is paused, or when a partition is paused for
table recovery; the consumer's position has moved past them. Second, its commit logic turns
that hole into a committed offset:

- the next record it reads after the hole looks like a "gap" (meant for compacted topics and
  transaction markers) and `_add_gap` counts the missing offsets as acknowledged;
- `_new_offset` commits past one unacknowledged offset (`min(acked) - committed > 1` lets a
  hole of one through) and does not check at all when the committed offset is 0 or unknown;
- `perform_seek` records a committed offset of 0 as "unknown";
- aiokafka's `seek_to_committed` does not seek back to a committed offset of 0.

The versions here never commit past an offset that was not processed: the raw and alerting
topics are neither compacted nor transactional, so a hole is a dropped record, and commits of
that partition hold until it is processed. `reread_stalled` (run every few seconds by the
processor) seeks a held partition back to its committed offset so the dropped records are read
again; the dedup table drops what was already done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from faust.transport import consumer as faust_consumer
from faust.types import TP
from faust.utils.functional import consecutive_numbers

log = logging.getLogger("watchfloor.process")

REREADS_BEFORE_SKIPPING = 3


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


async def _perform_seek(self: Any) -> None:
    committed = await self.seek_to_committed()
    self._read_offset.update({tp: o if o is not None and o >= 0 else None for tp, o in committed.items()})
    # 0 is a committed offset like any other: it is what the hole check compares against.
    self._committed_offset.update({faust_consumer.ensure_TP(tp): o for tp, o in committed.items()
                                   if o is not None and o >= 0})


def _new_offset(self: Any, tp: TP) -> int | None:
    acked = self._acked[tp]
    if not acked:
        return None
    acked.sort()
    committed = self._committed_offset[tp]
    if committed is not None and acked[0] > committed:
        return None  # offset `committed` is not processed yet (or was dropped: see reread_stalled)
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return batch[-1] + 1


async def _add_gap(self: Any, tp: TP, offset_from: int, offset_to: int) -> None:
    """A hole in offsets is a dropped record on these topics: never count it as processed."""
    log.debug("offsets %d..%d of %s skipped by the fetcher; commits wait for them", offset_from, offset_to - 1, tp)


@dataclass
class _Stall:
    committed: int
    since: float
    rereads: int = 0


def _held(stalls: dict[TP, _Stall], tp: TP, committed: int, now: float, after: float) -> _Stall | None:
    """The stall of `tp` once it has sat at the same committed offset for `after` s, else None."""
    stall = stalls.get(tp)
    if stall is None or stall.committed != committed:
        stalls[tp] = _Stall(committed, now)
        return None
    return stall if now - stall.since >= after else None


async def reread_stalled(consumer: Any, after: float = 10.0) -> None:
    """Seeks back a partition whose commits have waited `after` s for a record that later ones
    overtook, i.e. a record faust dropped. After REREADS_BEFORE_SKIPPING re-reads that never
    deliver it (deleted by retention, or a transaction marker from a foreign producer) the
    hole is skipped with an error in the log, so the partition does not stall forever."""
    now = time.monotonic()
    _stalls: dict[TP, _Stall] = consumer.__dict__.setdefault("_watchfloor_stalls", {})
    assignment = consumer.assignment()
    for tp in list(_stalls):
        if tp not in assignment:
            del _stalls[tp]
    await _reread_dropped_tails(consumer, assignment, now, after)
    for tp, acked in list(consumer._acked.items()):
        committed = consumer._committed_offset.get(tp)
        if tp not in assignment or not acked or committed is None or min(acked) <= committed:
            _stalls.pop(tp, None)
            continue
        stall = _held(_stalls, tp, committed, now, after)
        if stall is None:
            continue
        first_done = min(acked)
        if stall.rereads < REREADS_BEFORE_SKIPPING:
            stall.rereads += 1
            stall.since = now
            log.warning("records were dropped before processing; reading them again",
                        extra={"topic": tp.topic, "partition": tp.partition,
                               "offsets": f"{committed}..{first_done - 1}", "attempt": stall.rereads})
            await consumer.seek_wait({tp: committed})
        else:
            log.error("records could not be read after several attempts (deleted by retention?); skipping them",
                      extra={"topic": tp.topic, "partition": tp.partition, "offsets": f"{committed}..{first_done - 1}"})
            missing = range(committed, first_done)
            acked.extend(missing)
            consumer._acked_index[tp].update(missing)
            del _stalls[tp]


async def _reread_dropped_tails(consumer: Any, assignment: set, now: float, after: float) -> None:
    """The other shape of a drop: the last records of a quiet partition (an alert rule's, say).
    Nothing later is acknowledged to reveal the hole, yet the fetch position is past records
    that were never delivered. Held like that for `after` s with nothing in flight, the
    partition is sought back to its committed offset."""
    tails: dict[TP, _Stall] = consumer.__dict__.setdefault("_watchfloor_tails", {})
    in_flight = {m.tp for m in list(consumer._unacked_messages)}
    acks_enabled = consumer.app.topics.acks_enabled_for
    for tp in list(tails):
        if tp not in assignment:
            del tails[tp]
    for tp in assignment:
        committed = consumer._committed_offset.get(tp)
        if committed is None or consumer._acked.get(tp) or tp in in_flight or not acks_enabled(tp.topic):
            tails.pop(tp, None)
            continue
        position = await consumer.position(tp)
        if position is None or position <= committed:
            tails.pop(tp, None)
            continue
        stall = _held(tails, tp, committed, now, after)
        if stall is None:
            continue
        stall.since = now
        stall.rereads += 1
        log.warning("records were fetched but never processed; reading them again",
                    extra={"topic": tp.topic, "partition": tp.partition, "offsets": f"{committed}..{position - 1}",
                           "attempt": stall.rereads})
        await consumer.seek_wait({tp: committed})


def apply() -> None:
    if getattr(AIOKafkaConsumer.seek_to_committed, "__watchfloor__", False):
        return
    _seek_to_committed.__watchfloor__ = True  # type: ignore[attr-defined]
    AIOKafkaConsumer.seek_to_committed = _seek_to_committed  # type: ignore[method-assign]
    base = faust_consumer.Consumer
    base.perform_seek = _perform_seek  # type: ignore[method-assign]
    base._new_offset = _new_offset  # type: ignore[method-assign]
    base._add_gap = _add_gap  # type: ignore[method-assign]


RECOVERY_STALL_SECONDS = 20.0


async def restart_stalled_recovery(recovery: Any, stall: float = RECOVERY_STALL_SECONDS) -> bool:
    """faust-streaming can stop receiving changelog records during a table recovery (issues
    faust-streaming/faust#21, #74): the worker then holds its partitions and processes nothing.
    When recovery has received nothing for `stall` s, this restarts it the way a new rebalance
    would (seek the changelogs again, resume fetching). Returns True when it did."""
    started = getattr(recovery, "_recovery_started_at", None)
    if not recovery.in_recovery or started is None or not recovery.active_remaining_total():
        return False
    now = time.monotonic()
    received = [t for t in recovery._active_events_received_at.values() if t is not None]
    last = max([started, *received, getattr(recovery, "_watchfloor_kicked_at", 0.0)])
    if now - last < stall:
        return False
    recovery._watchfloor_kicked_at = now
    log.warning("table recovery received nothing for %.0f s (a known faust problem); restarting it", now - last,
                extra={"remaining": recovery.active_remaining_total()})
    recovery.signal_recovery_start.set()
    return True


async def watch_recovery(app: Any, every: float = 5.0) -> None:
    """Runs for the worker's life; started on the first assignment, before any recovery."""
    while not app.should_stop:
        try:
            await restart_stalled_recovery(app.tables.recovery)
        except Exception:  # a watchdog must never take the worker down
            log.exception("recovery watchdog failed")
        await asyncio.sleep(every)
