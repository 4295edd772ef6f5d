"""The `watchfloor process` stage: rules loaded and checked, topics ensured, faust worker run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from processors.app import build_app, run_worker
from rules.loader import DEFAULT_RULES, RulesError
from rules.reload import LiveRules
from notifiers.channels import configured_tags
from watchfloor.settings import ConfigError, Settings
from watchfloor.topics import Topics, ensure_topics


def rules_location(settings: Settings, override: Path | None = None) -> Path:
    return override or settings.rules_dir or DEFAULT_RULES


async def prepare(settings: Settings, live: LiveRules) -> int:
    """Creates the topics; returns the replication factor for faust's own topics."""
    bootstrap = settings.require_bootstrap()
    try:
        await ensure_topics(bootstrap, Topics(settings.topic_prefix).specs(live.current.category_ids))
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            brokers = len((await admin.describe_cluster()).get("brokers", []))
        finally:
            await admin.close()
    except Exception as exc:
        raise ConfigError(f"cannot reach Kafka at {bootstrap} (WATCHFLOOR_KAFKA_BOOTSTRAP): {exc}") from None
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
