"""Consume, transform, produce, exactly once: the loop under the classify and alerting stages.

Each input partition has two transactional producers, used in turn (transactional ids
`<group>.<topic>.<partition>` and `<group>.<topic>.<partition>.b`): a transaction begun on a
producer right after its last commit waits while the broker writes that commit's markers, and
aiokafka retries that wait every 20 ms, a whole hop of latency; the other producer's last commit
is a batch older. Both are started, and so fence their ids, before the partition is read. A
batch fetched from a partition is handed to the stage's `Handler`; its outputs (result topics,
state changelog records, dead letters), sent as one record batch per output partition
(core/batch_send.py), and the partition's next offset go into one Kafka transaction. Readers with
`isolation_level=read_committed` see each input's outputs exactly once:

- a crash before the commit aborts the transaction: the new owner of the partition (which
  uses the same transactional id, so its start fences the old producer and aborts what it left
  open) reads from the last committed offset and rebuilds state from the changelog;
- a failed commit (broker gone, timeout) aborts, reloads the partition's state from the
  changelog, seeks back to the committed offset and tries again: nothing is skipped, nothing
  is committed past a message whose outputs were not acknowledged;
- a message the handler cannot process becomes a dead letter with its reason, in the same
  transaction, and the partition moves on.

No faust and no private client API: aiokafka's public consumer, rebalance listener and
transactional producer only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    CorruptRecordException,
    IllegalOperation,
    KafkaError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from prometheus_client import Counter, Histogram

from core import health
from core.batch_send import send_batched, send_each
from core.contracts import ProcessingDeadLetter
from core.heap import settle_startup_heap
from core.kafka import make_consumer, make_producer
from core.settings import Settings

log = logging.getLogger("watchfloor.stage")

DEAD_LETTERS = Counter("watchfloor_processing_dead_total", "Messages sent to the dead-letter topic", ["stage"])
TRANSACTIONS = Counter("watchfloor_transactions_total", "Transactions by outcome (committed, aborted)", ["stage", "outcome"])
COMMIT_SECONDS = Histogram("watchfloor_transaction_seconds", "Time from a transaction's begin to its commit",
                           ["stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
VALUE_CAP = 64 * 1024
START_TIMEOUT = 15.0  # a producer start or abort that waits on an unreachable cluster is retried later
# Errors that concern one record, not the connection or the producer: retrying cannot help, so
# the input that produced the record is dead-lettered instead.
REFUSED_RECORD = (MessageSizeTooLargeError, RecordListTooLargeError, CorruptRecordException, RecordTooLargeError)


@dataclass(frozen=True, slots=True)
class Output:
    """One record to produce in the input's transaction; `partition` None lets Kafka pick by key."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class Unprocessable(Exception):
    """Raised by a handler for a message that can never be processed (bad bytes, bad schema)."""


class Handler(Protocol):
    """What a stage does; no Kafka in it beyond the records it is given."""

    name: str

    async def assigned(self, partitions: Sequence[int]) -> None:
        """Load the state of these input partitions (from their changelog) before any record."""

    def revoked(self, partitions: Sequence[int]) -> None:
        """Forget the state of these partitions: another worker owns them now."""

    def process(self, partition: int, record: ConsumerRecord) -> list[Output]:
        """Outputs of one record; raise Unprocessable (or anything) to dead-letter it."""

    def tick(self, partition: int, now: float) -> list[Output]:
        """Periodic outputs for a partition (expiry tombstones), committed like any other."""


class _Listener(ConsumerRebalanceListener):
    def __init__(self, stage: "TransactionalStage") -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.stage.release([tp.partition for tp in revoked if tp.topic == self.stage.topic])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.stage.acquire([tp.partition for tp in assigned if tp.topic == self.stage.topic])


class TransactionalStage:
    """Runs a Handler over `topic` in consumer group `group`, one transaction per partition batch."""

    def __init__(self, settings: Settings, handler: Handler, topic: str, group: str, dead_topic: str, *,
                 max_records: int = 5000, tick_every: float = 30.0, ready_name: str | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.topic = topic
        self.group = group
        self.dead_topic = dead_topic
        self.max_records = max_records
        self.tick_every = tick_every
        self.ready_name = ready_name
        self.consumer: AIOKafkaConsumer | None = None
        self.producers: dict[int, list[AIOKafkaProducer]] = {}  # partition -> its two producers
        self._turn: dict[int, int] = {}  # partition -> which of them takes the next transaction
        self._lock = asyncio.Lock()
        self._ticked: dict[int, float] = {}
        self._broken: set[int] = set()  # partitions whose last transaction failed: reload before going on
        self._refused: dict[tuple[int, int], Exception] = {}  # (partition, offset) whose output Kafka refused
        self._settled = False
        self._one_by_one: set[int] = set()  # partitions whose last batch was refused whole: send record by record

    # -- rebalance ---------------------------------------------------------------------------
    async def _new_producer(self, partition: int, suffix: str = "") -> AIOKafkaProducer:
        """A fresh transactional producer for the partition; starting it fences any other producer
        with its id (a previous owner, or this worker's own failed one) and aborts what that left open.
        retry_backoff_ms: a transaction begun right after the last one's commit is told
        CONCURRENT_TRANSACTIONS while the markers are written; retry soon, not in 100 ms."""
        producer = make_producer(self.settings, transactional_id=f"{self.group}.{self.topic}.{partition}{suffix}",
                                 linger_ms=0, max_batch_size=256 * 1024, retry_backoff_ms=10)
        try:
            await asyncio.wait_for(producer.start(), START_TIMEOUT)
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _new_producers(self, partition: int) -> list[AIOKafkaProducer]:
        """The partition's two producers, both started (both ids fenced) or neither."""
        first = await self._new_producer(partition)
        try:
            second = await self._new_producer(partition, ".b")
        except BaseException:
            await first.stop()
            raise
        self._turn[partition] = 0
        return [first, second]

    async def acquire(self, partitions: list[int]) -> None:
        """New partitions: a producer each (fencing any previous owner), then their state."""
        async with self._lock:
            for p in sorted(partitions):
                if p not in self.producers:
                    self.producers[p] = await self._new_producers(p)
            fresh = [p for p in partitions if p not in self._ticked]
            if fresh:
                await self.handler.assigned(fresh)
                if not self._settled:  # the handler's start-up state is built: keep the collector off it
                    settle_startup_heap()
                    self._settled = True
                now = time.monotonic()
                for p in fresh:
                    self._ticked[p] = now
        log.info("partitions assigned", extra={"stage": self.handler.name, "partitions": sorted(self.producers)})
        if self.ready_name:
            health.set_ready(self.ready_name)

    async def release(self, partitions: list[int]) -> None:
        """Waits for the batch in flight (its transaction ends first), then lets the partitions go."""
        async with self._lock:
            self.handler.revoked(partitions)
            for p in partitions:
                self._ticked.pop(p, None)
                self._broken.discard(p)
                self._one_by_one.discard(p)
                await self._stop_producer(p)

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self.consumer = make_consumer(self.settings, group_id=self.group, isolation_level="read_committed",
                                      max_poll_records=self.max_records, session_timeout_ms=10000,
                                      heartbeat_interval_ms=2000, rebalance_timeout_ms=30000,
                                      max_partition_fetch_bytes=4 * 1024 * 1024)
        try:
            await self.consumer.start()
            self.consumer.subscribe([self.topic], listener=_Listener(self))
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=500, max_records=self.max_records)
                await self._commit_batches(batch)
                await self._maintain()
        finally:
            await self._close()

    async def _commit_batches(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Outputs are computed partition by partition; the partitions' transactions (each its own
        producer) then commit concurrently, so a batch costs one round of commits, not six."""
        async with self._lock:
            work = [(tp, records, self._outputs(tp, records)) for tp, records in batch.items()
                    if tp.partition in self.producers and records and tp.partition not in self._broken]
            if work:
                await asyncio.gather(*(self._commit(tp, records, outputs) for tp, records, outputs in work))

    async def _maintain(self) -> None:
        """Ticks due partitions and retries broken ones (new producer, state reloaded, position
        back to the last commit)."""
        async with self._lock:
            now = time.monotonic()
            for p in sorted(self._broken):
                await self._recover(p)
            for p, last in list(self._ticked.items()):
                if now - last >= self.tick_every and p in self.producers and p not in self._broken:
                    self._ticked[p] = now
                    outputs = [(o, None) for o in self.handler.tick(p, time.time())]
                    if outputs:
                        await self._commit(TopicPartition(self.topic, p), [], outputs)

    def _outputs(self, tp: TopicPartition, records: list[ConsumerRecord]) -> list[tuple[Output, int | None]]:
        """Each output with the offset of the input it came from (to dead-letter that input if
        Kafka refuses the output itself)."""
        outputs: list[tuple[Output, int | None]] = []
        for record in records:
            refused = self._refused.pop((tp.partition, record.offset), None)
            if refused is not None:
                outputs.append((self._dead_letter(record, refused), record.offset))
                continue
            try:
                outputs.extend((o, record.offset) for o in self.handler.process(tp.partition, record))
            except Exception as exc:  # the stage never stops on one message: it is set aside with its reason
                outputs.append((self._dead_letter(record, exc), record.offset))
        return outputs

    async def _commit(self, tp: TopicPartition, records: list[ConsumerRecord],
                      outputs: list[tuple[Output, int | None]]) -> None:
        """One transaction: the outputs and the partition's next offset join it together, every
        output is acknowledged, then the commit. Any failure aborts it and marks the partition for
        recovery. (aiokafka would commit a transaction one of whose sends failed: the acks are
        checked before the commit.)"""
        pair = self.producers.get(tp.partition)
        if pair is None:
            return
        turn = self._turn.get(tp.partition, 0)
        producer, self._turn[tp.partition] = pair[turn], 1 - turn
        started = time.perf_counter()
        try:
            await producer.begin_transaction()
            one_by_one = tp.partition in self._one_by_one
            # the offsets join the transaction while its records are in flight (a round trip or
            # two saved); they take effect only with the commit below, which waits for every ack
            failed, added = await asyncio.gather(
                (send_each if one_by_one else send_batched)(producer, outputs),
                self._add_offsets(producer, tp, records), return_exceptions=True)
            if isinstance(failed, BaseException):
                raise failed
            if failed:
                for offsets, exc in failed:
                    if isinstance(exc, REFUSED_RECORD):
                        if len(offsets) == 1 and offsets[0] is not None:  # this input can never be written
                            self._refused[(tp.partition, offsets[0])] = exc
                        else:  # a refused batch names no record: the retry sends one at a time to find it
                            self._one_by_one.add(tp.partition)
                raise failed[0][1]
            if isinstance(added, BaseException):
                raise added
            await producer.commit_transaction()
            if one_by_one and records:
                self._one_by_one.discard(tp.partition)
            TRANSACTIONS.labels(self.handler.name, "committed").inc()
            COMMIT_SECONDS.labels(self.handler.name).observe(time.perf_counter() - started)
        except ProducerFenced:
            TRANSACTIONS.labels(self.handler.name, "aborted").inc()
            log.warning("the producer of partition %s was fenced; it is replaced if the partition is still ours",
                        tp.partition, extra={"stage": self.handler.name})
            self._broken.add(tp.partition)
        except (KafkaError, OSError, asyncio.TimeoutError, AssertionError, IllegalOperation) as exc:
            # AssertionError, IllegalOperation ("not in transaction"): aiokafka's transaction
            # manager refuses a state change, or a send, once its producer hit a fatal error (a
            # producer fenced while idle); the producers are replaced below either way.
            TRANSACTIONS.labels(self.handler.name, "aborted").inc()
            log.warning("transaction for partition %s failed (%s: %s); its messages are read again from the last "
                        "commit", tp.partition, type(exc).__name__, str(exc)[:200], extra={"stage": self.handler.name})
            await self._abort(producer)
            self._broken.add(tp.partition)

    async def _add_offsets(self, producer: AIOKafkaProducer, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        if records:
            await producer.send_offsets_to_transaction({tp: records[-1].offset + 1}, self.group)

    async def _stop_producer(self, partition: int) -> None:
        for producer in self.producers.pop(partition, []):
            try:
                await producer.stop()
            except Exception as exc:  # a failed producer may fail to stop cleanly too; it is discarded
                log.debug("producer stop: %s", exc)

    async def _abort(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.abort_transaction(), START_TIMEOUT)
        except Exception as exc:  # the broker may be gone; the new producer's start aborts it anyway
            log.debug("abort failed: %s", exc)

    async def _recover(self, partition: int) -> None:
        """After a failed transaction: the producer is replaced (a failed one may be in a state it
        cannot leave, and the new one fences it and aborts its transaction), the state is reloaded
        from the changelog's committed records and the position goes back to the committed offset,
        so the batch is processed again as if for the first time."""
        assert self.consumer is not None
        tp = TopicPartition(self.topic, partition)
        await self._stop_producer(partition)
        if tp not in self.consumer.assignment():  # no longer ours: the rebalance gave it to another worker
            self.handler.revoked([partition])
            self._ticked.pop(partition, None)
            self._broken.discard(partition)
            return
        try:
            self.producers[partition] = await self._new_producers(partition)
            self.handler.revoked([partition])
            await self.handler.assigned([partition])
            committed = await self.consumer.committed(tp)
            if committed is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            log.debug("partition %s not recovered yet: %s", partition, exc)
            await self._stop_producer(partition)
            await asyncio.sleep(1.0)
            return
        self._broken.discard(partition)
        log.info("partition %s recovered: reading again from offset %s", partition, committed,
                 extra={"stage": self.handler.name})

    def _dead_letter(self, record: ConsumerRecord, exc: Exception) -> Output:
        DEAD_LETTERS.labels(self.handler.name).inc()
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500] if str(exc) else type(exc).__name__
        log.error("message set aside on %s: %s", self.dead_topic, reason,
                  extra={"stage": self.handler.name, "topic": record.topic, "partition": record.partition,
                         "offset": record.offset})
        letter = ProcessingDeadLetter(
            stage=self.handler.name, reason=reason, topic=record.topic, partition=record.partition, offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key is not None else None,
            value=record.value[:VALUE_CAP].decode("utf-8", "replace") if record.value is not None else None,
            failed=datetime.now(timezone.utc))
        return Output(self.dead_topic, record.key, letter.to_bytes())

    async def _close(self) -> None:
        if self.ready_name:
            health.set_ready(self.ready_name, False)
        if self.consumer is not None:
            try:
                await self.consumer.stop()
            except Exception as exc:
                log.debug("consumer stop: %s", exc)
        for producer in [p for pair in self.producers.values() for p in pair]:
            try:
                await producer.stop()
            except Exception as exc:
                log.debug("producer stop: %s", exc)
        self.producers.clear()
