"""The `watchfloor process` stage: rules loaded and checked, topics ensured, faust worker run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from notifiers.channels import configured_tags
from processors.app import build_app, run_worker
from rules.loader import DEFAULT_RULES, RulesError
from rules.reload import LiveRules
from core.kafka import client_kwargs, connection_problem, make_consumer
from core.settings import ConfigError, Settings
from core.provisioning import plan
from core.topics import Topics, ensure_topics

log = logging.getLogger("watchfloor.process")


def rules_location(settings: Settings, override: Path | None = None) -> Path:
    return override or settings.rules_dir or DEFAULT_RULES


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}-processors"


def alerting_topic(settings: Settings) -> str:
    """faust's topic for the `alerting` agent (named by faust: `<app id>-<agent name>`)."""
    return f"{consumer_group(settings)}-alerting"


async def seed_committed_offsets(settings: Settings, group: str, topics: list[str]) -> list[TopicPartition]:
    """Gives every partition the group has never committed on a committed offset (its start).

    faust, after a rebalance, seeks each partition back to its committed offset and drops what
    it had fetched meanwhile; for a partition with no committed offset yet that seek does
    nothing, and the dropped messages are skipped for good. With an offset committed from the
    start there is always somewhere to seek back to. Only possible while the group is empty
    (the first worker's start); otherwise Kafka refuses and the group's own commits stand.
    """
    consumer = make_consumer(settings, group_id=group, enable_auto_commit=False)
    try:  # stopped in `finally` even when start fails: no unclosed client
        await consumer.start()
        await consumer._client.force_metadata_update()  # noqa: SLF001 - no subscription, so no topic metadata yet
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        missing = [tp for tp in tps if await consumer.committed(tp) is None]
        if missing:
            start = await consumer.beginning_offsets(missing)
            await consumer.commit({tp: start[tp] for tp in missing})
        return missing
    except KafkaConnectionError:
        raise
    except KafkaError as exc:
        log.info("not seeding committed offsets (the group is active): %s", exc)
        return []
    finally:
        await consumer.stop()


async def prepare(settings: Settings, live: LiveRules) -> int:
    """Creates the topics; returns the replication factor for faust's own topics."""
    bootstrap = settings.require_bootstrap()
    topics = Topics(settings.topic_prefix)
    try:
        # Every planned topic, faust's own included, so that with WATCHFLOOR_CREATE_TOPICS=false
        # nothing is created behind the operator's back (faust would create what is missing).
        await ensure_topics(settings, [p.spec for p in plan(settings, live.current.category_ids)])
        await seed_committed_offsets(settings, consumer_group(settings), [topics.raw, alerting_topic(settings)])
        admin = AIOKafkaAdminClient(**client_kwargs(settings))
        try:  # stopped in `finally` even when start fails: no unclosed client
            await admin.start()
            brokers = len((await admin.describe_cluster()).get("brokers", []))
        finally:
            await admin.close()
    except ConfigError:
        raise
    except Exception as exc:
        raise connection_problem(settings, exc) from None
    return min(3, max(1, brokers))


def live_rules(settings: Settings, rules: Path | None = None) -> LiveRules:
    """The rules in force from start; invalid rules at start are a configuration error."""
    location = rules_location(settings, rules)
    try:
        return LiveRules(location, known_tags=configured_tags(settings))
    except RulesError as exc:
        raise ConfigError(f"the rules in {location} are not valid:\n{exc}") from None


def run_processor(settings: Settings, rules: Path | None = None) -> None:
    live = live_rules(settings, rules)
    replication = asyncio.run(prepare(settings, live))
    run_worker(build_app(settings, live, replication))
