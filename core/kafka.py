"""Kafka client construction in one place, so every stage connects the same way."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from core.outage import OUTAGE
from core.settings import ConfigError, Settings


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by producers, consumers and admin clients."""
    OUTAGE.know(settings.require_bootstrap())
    return {"bootstrap_servers": settings.require_bootstrap(), "client_id": "watchfloor",
            **settings.security.aiokafka_kwargs()}


class _LastConnectError(logging.Handler):
    """aiokafka reports why a connection failed (bad password, TLS) only in its log, then raises
    a bare "Unable to bootstrap"; this keeps that reason for `connection_problem`."""

    last = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Unable connect" in message or "Authentication" in message or "SSL" in message:
            _LastConnectError.last = message


logging.getLogger("aiokafka").addHandler(_LastConnectError(level=logging.ERROR))


def connection_problem(settings: Settings, exc: BaseException) -> ConfigError:
    """One clear line naming the setting to check; never the password (aiokafka's errors do not
    carry it, and it is not added here)."""
    bootstrap = settings.bootstrap
    name, text = type(exc).__name__, str(exc)
    if name == "KafkaConnectionError" and _LastConnectError.last:
        text = f"{text} ({_LastConnectError.last})"
    security = settings.security
    if "Authentication" in name or "authentication" in text.lower() or "Sasl" in name or "Sasl" in text:
        return ConfigError(f"Kafka at {bootstrap} refused the login of WATCHFLOOR_KAFKA_USERNAME={security.username!r} "
                           f"with WATCHFLOOR_KAFKA_SASL_MECHANISM={security.mechanism}: check WATCHFLOOR_KAFKA_PASSWORD "
                           f"(or WATCHFLOOR_KAFKA_PASSWORD_FILE) and the mechanism ({name})")
    if isinstance(exc, ssl.SSLError) or "SSL" in name or "certificate" in text.lower():
        return ConfigError(f"TLS to Kafka at {bootstrap} failed: check WATCHFLOOR_KAFKA_CA_FILE (and _CERT_FILE/_KEY_FILE "
                           f"for mutual TLS) and that WATCHFLOOR_KAFKA_SECURITY_PROTOCOL={security.protocol} is the listener's: {text}")
    text = text.removeprefix(f"{name}: ").removeprefix(name).strip()
    return ConfigError(f"cannot reach Kafka at {bootstrap} (WATCHFLOOR_KAFKA_BOOTSTRAP; {security.describe()}): "
                       f"{name}: {text}" if text else f"cannot reach Kafka at {bootstrap} (WATCHFLOOR_KAFKA_BOOTSTRAP; "
                       f"{security.describe()}): {name}")


def make_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """Durable by default: every send waits for all in-sync replicas, retries never duplicate."""
    kwargs: dict[str, Any] = {
        **client_kwargs(settings),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "request_timeout_ms": 15000,
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


class _Consumer(AIOKafkaConsumer):
    """aiokafka's consumer; its stop first lets the group-less coordinator's reset task start:
    cancelled before it ever ran (a consumer stopped right after start), aiokafka's close
    re-raises that CancelledError into the caller."""

    async def stop(self) -> None:
        await asyncio.sleep(0)
        await super().stop()


def make_consumer(settings: Settings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """read_committed: the stages write in transactions, and an aborted one must never be read."""
    kwargs: dict[str, Any] = {**client_kwargs(settings), "enable_auto_commit": False, "auto_offset_reset": "earliest",
                              "isolation_level": "read_committed",
                              # a transaction's records become readable only when its markers are
                              # written, which does not always wake a waiting fetch: the broker then
                              # answers after this wait. Each hop of the pipeline pays it at most once.
                              "fetch_max_wait_ms": 20}
    kwargs.update(overrides)
    return _Consumer(*topics, **kwargs)


async def topic_partitions(settings: Settings, consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """The topic's partitions, [] if it does not exist. A consumer knows only the topics that existed
    when it started and has no public metadata refresh, so a newer topic is looked up with an admin
    client (all topics are described: naming one could auto-create it)."""
    known = consumer.partitions_for_topic(topic)
    if known is None:
        admin = AIOKafkaAdminClient(**client_kwargs(settings))
        try:  # closed in `finally` even when start fails: no unclosed client
            await admin.start()
            described = await admin.describe_topics()
        finally:
            await admin.close()
        known = {p["partition"] for t in described if t["topic"] == topic and t["error_code"] == 0 for p in t["partitions"]}
    return sorted(known)


async def records_to_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> AsyncIterator[ConsumerRecord]:
    """The assigned partitions' records from their positions up to the end offsets at call time (under
    read_committed the last stable offset: aborted and open transactions are not reached). Positions
    are left at those end offsets, so a caller can keep consuming from there without a gap."""
    end = await consumer.end_offsets(tps)
    remaining = {tp for tp in tps if await consumer.position(tp) < end[tp]}
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batch.items():
            for r in records:
                if r.offset < end[tp]:
                    yield r
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
    for tp in tps:
        if await consumer.position(tp) > end[tp]:  # fetched past the end: those records were not yielded
            consumer.seek(tp, end[tp])


async def read_to_end(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a topic from the beginning to the end offsets at call time.

    No consumer group, nothing committed; see core/state.py for state kept in compacted topics.
    """
    consumer = make_consumer(settings, group_id=None)
    try:  # stopped in `finally` even when start fails: no unclosed client
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in await topic_partitions(settings, consumer, topic)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return [(r.key, r.value) async for r in records_to_end(consumer, tps)]
    finally:
        await consumer.stop()
