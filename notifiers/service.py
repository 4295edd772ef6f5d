"""`watchfloor notify`: consumes `<prefix>.alerts` in consumer group `<prefix>-notifiers` and
delivers each alert to its channels, at least once and (through the delivery log) without
duplicates after a crash.

Alerts are delivered concurrently (at most `concurrency` at a time), so a channel being retried
holds up nothing but its own alert. Offsets are committed by hand, per partition only up to the
lowest alert not yet settled, every `commit_interval` seconds and on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaConnectionError, KafkaError

from notifiers.channels import Channels
from notifiers.dead_letters import DeadLetters
from notifiers.deliver import Deliverer, RetryPolicy
from notifiers.delivery_log import DeliveryLog
from notifiers.format import AlertRenderer
from notifiers.metrics import ALERTS_IN_FLIGHT, INVALID_MESSAGES
from notifiers.offsets import OffsetTracker
from core import health
from core.contracts import Alert
from core.durable import DurableProducer
from core.heap import settle_startup_heap
from core.kafka import make_consumer, make_producer
from core.settings import ConfigError, Settings
from core.kafka import connection_problem
from core.topics import Topics, ensure_topics
from core.lag import report_lag
from core.tasks import background, cancel_all

log = logging.getLogger("watchfloor.notify")

POLL_MS = 200


class UnknownTagError(ConfigError):
    """`notify --test TAG` for a tag no channel has (the CLI exits 2, like any ConfigError)."""


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}-notifiers"


async def run_notifier(
    settings: Settings,
    apprise_config: Path | None,
    stop: asyncio.Event,
    *,
    retry: RetryPolicy | None = None,
    concurrency: int = 32,
    commit_interval: float = 1.0,
    drain_timeout: float = 10.0,
) -> None:
    """Delivers alerts until `stop` is set; then waits up to `drain_timeout` s for alerts in
    flight, commits what is settled and returns. `apprise_config` overrides
    `settings.apprise_config`; with neither, alerts are printed to stdout. Raises ConfigError for a
    bad config or an unreachable Kafka, and a Kafka error that waiting cannot cure if the delivery
    log or a dead letter cannot be written (retriable ones are retried; nothing is committed past
    that alert)."""
    config = apprise_config or settings.apprise_config
    channels = Channels.load(config)
    topics = Topics(settings.topic_prefix)
    bootstrap = settings.require_bootstrap()
    try:
        await ensure_topics(settings, topics.specs())
    except (KafkaConnectionError, OSError) as exc:
        raise connection_problem(settings, exc) from None
    notifier = Notifier(
        settings,
        channels,
        topics,
        retry or RetryPolicy(),
        concurrency=concurrency,
        commit_interval=commit_interval,
        drain_timeout=drain_timeout,
    )
    await notifier.run(stop)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, notifier: "Notifier") -> None:
        self.notifier = notifier

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.notifier.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.notifier.assigned(set(assigned))


class Notifier:
    """The consume loop; one per process."""

    def __init__(
        self,
        settings: Settings,
        channels: Channels,
        topics: Topics,
        policy: RetryPolicy,
        *,
        concurrency: int,
        commit_interval: float,
        drain_timeout: float,
    ) -> None:
        self.settings = settings
        self.channels = channels
        self.topics = topics
        self.policy = policy
        self.concurrency = max(1, concurrency)
        self.commit_interval = commit_interval
        self.drain_timeout = drain_timeout
        self.tracker = OffsetTracker()
        self.inflight: dict[asyncio.Task[None], tuple[TopicPartition, int]] = {}
        self.failures: list[BaseException] = []
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: DurableProducer | None = None
        self.delivery_log: DeliveryLog | None = None
        self.deliverer: Deliverer | None = None
        self._loaded_at_start = False

    async def run(self, stop: asyncio.Event) -> None:
        self.producer = DurableProducer(lambda: make_producer(self.settings))
        await self.producer.start()
        try:
            self.delivery_log = DeliveryLog(self.settings, self.topics.deliveries, self.producer)
            await self.delivery_log.load()
            self._loaded_at_start = True
            self.deliverer = Deliverer(
                self.channels, self.delivery_log, DeadLetters(self.topics.alerts_dead, self.producer), self.policy
            )
            self.consumer = make_consumer(self.settings, group_id=consumer_group(self.settings))
            self.consumer.subscribe([self.topics.alerts], listener=_Rebalance(self))
            await self.consumer.start()
            settle_startup_heap()
            health.set_ready("notify")
            helpers = [background(report_lag(self.settings, consumer_group(self.settings), self.topics.alerts), "notify lag"),
                       background(health.heartbeat_loop(), "heartbeat")]
            log.info(
                "notifier started",
                extra={
                    "channels": len(self.channels.all()),
                    "apprise_config": str(self.channels.source) if self.channels.source else "none: console",
                    "delivered_known": len(self.delivery_log),
                },
            )
            graceful = False
            try:
                await self._loop(stop)
                graceful = True
            finally:
                # awaited, not only cancelled: a lag reading in progress closes its Kafka clients
                # (a client left open was an "Unclosed AIOKafkaConnection" error at every stop)
                await cancel_all(helpers)
                health.set_ready("notify", False)
                await self._drain(graceful)
                await self.consumer.stop()
        finally:
            await self.producer.stop()
        log.info("notifier stopped")

    async def _loop(self, stop: asyncio.Event) -> None:
        assert self.consumer is not None
        loop = asyncio.get_running_loop()
        last_commit = loop.time()
        while not stop.is_set():
            self._raise_failures()
            free = self.concurrency - len(self.inflight)
            assignment = self.consumer.assignment()
            if free <= 0:
                self.consumer.pause(*assignment)
            elif self.consumer.paused():
                self.consumer.resume(*self.consumer.paused())
            batch = await self.consumer.getmany(timeout_ms=POLL_MS, max_records=max(1, free))
            for tp, records in batch.items():
                for record in records:
                    self._start(tp, record)
            if loop.time() - last_commit >= self.commit_interval:
                await self._commit()
                last_commit = loop.time()
        self._raise_failures()

    def _start(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        self.tracker.started(tp, record.offset)
        task = asyncio.create_task(self._process(tp, record), name=f"alert {tp.partition}:{record.offset}")
        self.inflight[task] = (tp, record.offset)
        ALERTS_IN_FLIGHT.inc()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        where = self.inflight.pop(task, None)
        ALERTS_IN_FLIGHT.dec()
        if where is None or task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failures.append(exc)
            return
        self.tracker.finished(*where)

    async def _process(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        assert self.deliverer is not None
        try:
            alert = Alert.from_bytes(record.value)
        except Exception as exc:  # noqa: BLE001 - any undecodable message is skipped the same way
            INVALID_MESSAGES.inc()
            log.error(
                "message on the alerts topic is not an alert/1 document; skipped: %s",
                type(exc).__name__,
                extra={"partition": tp.partition, "offset": record.offset},
            )
            return
        await self.deliverer.deliver(alert)

    def _raise_failures(self) -> None:
        if self.failures:
            exc = _first_leaf(self.failures[0])
            log.error("an alert could not be settled (Kafka refused the delivery log or a dead letter): %s", exc)
            raise exc

    async def _commit(self, tps: set[TopicPartition] | None = None) -> None:
        assert self.consumer is not None
        offsets = self.tracker.to_commit(tps)
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)  # type: ignore[arg-type]
        except KafkaError as exc:
            log.warning("offset commit failed; the next commit retries it: %s", exc)
            return
        self.tracker.committed(offsets)

    async def _settle(self, tasks: list[asyncio.Task[None]], timeout: float) -> None:
        """Lets `tasks` finish for up to `timeout` s, cancels the rest."""
        if not tasks:
            return
        if timeout > 0:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
        else:
            pending = set(tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # done-callbacks have marked the finished ones

    async def _drain(self, graceful: bool) -> None:
        if self.inflight:
            log.info(
                "stopping: %d alert(s) in flight%s",
                len(self.inflight),
                f", waiting up to {self.drain_timeout:.0f}s" if graceful else "",
            )
        await self._settle(list(self.inflight), self.drain_timeout if graceful else 0)
        await self._commit()

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        """Before the group moves partitions: settle (or give up) their alerts, commit, forget."""
        try:
            doomed = [task for task, (tp, _) in self.inflight.items() if tp in revoked]
            await self._settle(doomed, self.drain_timeout)
            await self._commit(revoked)
        except Exception:  # noqa: BLE001 - a listener must not break the group protocol
            log.exception("handling revoked partitions failed")
        finally:
            self.tracker.forget(revoked)

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        """Partitions may come from another notifier: read what it delivered meanwhile."""
        if self.delivery_log is None:
            return
        if self._loaded_at_start:  # the first assignment follows the load in run()
            self._loaded_at_start = False
            return
        try:
            known = await self.delivery_log.load()
        except Exception as exc:  # noqa: BLE001
            log.error("could not re-read the delivery log; duplicates are possible: %s", exc)
            return
        log.info("partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned), "delivered_known": known})


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


# --- notify --test ------------------------------------------------------------------------------


def probe_alert(tag: str) -> Alert:
    """The message `notify --test` sends (not named test_*: pytest would collect it)."""
    now = datetime.now(timezone.utc)
    return Alert(
        id=f"test-{uuid.uuid4().hex[:16]}",
        rule_id="watchfloor-test",
        severity="info",
        group_by="rule",
        group="watchfloor-test",
        story_id="watchfloor-test",
        title="Watchfloor test message",
        summary=f"If you can read this, the channels tagged {tag!r} are reachable from Watchfloor.",
        categories=[],
        reports=[],
        source_count=0,
        first_seen=now,
        fired=now,
        notify=[tag],
        rules_version="test",
    )


async def send_test_async(
    settings: Settings, apprise_config: Path | None, tag: str, out: TextIO | None = None, timeout: float = 30.0
) -> int:
    """See send_test."""
    out = out or sys.stdout
    channels = Channels.load(apprise_config or settings.apprise_config)
    targets = channels.for_tag(tag)
    if not targets:
        known = ", ".join(sorted(channels.tags())) or "none"
        raise UnknownTagError(f"no channel in {channels.source} has tag {tag!r} (tags there: {known})")
    renderer = AlertRenderer(probe_alert(tag))
    outcomes = await asyncio.gather(*(ch.send(renderer.message(ch.kind), timeout=timeout) for ch in targets))
    for channel, outcome in zip(targets, outcomes):
        status = "ok    " if outcome.ok else "FAILED"
        detail = "" if outcome.ok else f"  ({outcome.reason})"
        out.write(f"{status} {tag}  {channel.privacy_url}{detail}\n")
        extra = {"tag": tag, "channel": channel.privacy_url}
        if outcome.ok:
            log.info("test message delivered", extra=extra)
        else:
            log.warning("test message failed: %s", outcome.reason, extra=extra)
    out.flush()
    return sum(1 for o in outcomes if not o.ok)


def send_test(settings: Settings, apprise_config: Path | None, tag: str, out: TextIO | None = None) -> int:
    """Sends one test message (single attempt, no retries, no Kafka) to each channel of `tag`,
    prints a line per channel and returns how many failed. Raises UnknownTagError (a ConfigError)
    when no channel has the tag, ConfigError for a bad config."""
    return asyncio.run(send_test_async(settings, apprise_config, tag, out))
