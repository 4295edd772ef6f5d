"""The `watchfloor process` stage: rules loaded and checked, topics ensured, the classify loop run.

Consumer group `<prefix>-processors`. Scale-out is more workers in that group: each takes a
share of the raw topic's partitions, and with them the matching partitions of the dedup state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiokafka.errors import KafkaError

from core import health
from core.lag import report_lag
from core.provisioning import provision
from core.settings import Settings
from core.stage import TransactionalStage
from core.tasks import background, cancel_all
from core.topics import Topics, ensure_topics
from processors.stage import ClassifyHandler
from rules.places.gazetteer import gazetteer
from rules.reload import LiveRules, keep_reloading, live_rules, rules_location  # noqa: F401  (re-exported)

log = logging.getLogger("watchfloor.process")


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}-processors"


async def prepare(settings: Settings, live: LiveRules) -> None:
    """Every planned topic exists (core/provisioning.py)."""
    await provision(settings, live.current.category_ids)


def create_category_topics(settings: Settings) -> "Callable[[list[str]], Awaitable[bool]]":
    """After a reload: the topics of new categories, before their first headline is produced."""
    topics = Topics(settings.topic_prefix)

    async def create(categories: list[str]) -> bool:
        if not categories:
            return True
        try:
            await ensure_topics(settings, [s for s in topics.specs(categories) if s.name.startswith(f"{topics.prefix}.category.")])
            return True
        except (KafkaError, OSError) as exc:  # Kafka away: created next round
            log.warning("new category topics not created yet: %s", exc, extra={"categories": categories})
            return False

    return create


async def run_classify(settings: Settings, live: LiveRules, stop: asyncio.Event) -> None:
    """The classify loop until `stop`; topics must exist (see `prepare`)."""
    topics = Topics(settings.topic_prefix)
    stage = TransactionalStage(settings, ClassifyHandler(settings, live, topics), topics.raw, consumer_group(settings),
                               topics.processing_dead, ready_name="process")
    helpers = [background(report_lag(settings, consumer_group(settings), topics.raw), "classify lag"),
               background(health.heartbeat_loop(), "heartbeat")]
    try:
        await stage.run(stop)
    finally:
        await cancel_all(helpers)


async def run_processor(settings: Settings, stop: asyncio.Event, rules: Path | None = None) -> None:
    """`watchfloor process`: rules checked, topics ensured, the loop run with hot rule reloads."""
    places = background(asyncio.to_thread(gazetteer), "places gazetteer")  # loads while Kafka connects
    live = live_rules(settings, rules, stage="process")
    await prepare(settings, live)
    reloading = background(keep_reloading(live, stop, on_reload=create_category_topics(settings)), "rule reloads")
    try:
        await run_classify(settings, live, stop)
    finally:
        await cancel_all([reloading, places])
