"""The `watchfloor ingest` stage: topics ensured, seen ids loaded, feeds polled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiokafka.errors import KafkaConnectionError, KafkaError

from ingest.feeds import SAMPLE_FEEDS, load_feeds
from ingest.poller import Poller, PollResult
from ingest.publish import HeadlinePublisher
from ingest.seen import SeenIds
from core import health
from core.settings import ConfigError, Settings
from core.kafka import connection_problem
from core.tasks import background, cancel_all
from core.topics import Topics, ensure_topics

log = logging.getLogger("watchfloor.ingest")


def feeds_path(settings: Settings, override: Path | None = None) -> Path:
    return override or settings.feeds_file or SAMPLE_FEEDS


async def run_ingest(
    settings: Settings,
    feeds_file: Path | None = None,
    once: bool = False,
    stop: asyncio.Event | None = None,
) -> list[PollResult]:
    """Polls until `stop` is set, or every feed once with `once`; raises ConfigError if Kafka is unreachable."""
    path = feeds_path(settings, feeds_file)
    feeds = load_feeds(path)
    topics = Topics(settings.topic_prefix)
    bootstrap = settings.require_bootstrap()
    publisher = HeadlinePublisher(settings, topics)
    try:
        await ensure_topics(settings, topics.specs())
        seen = await SeenIds.load(settings, topics.ingest_seen)
        await publisher.start()
    except (KafkaConnectionError, OSError) as exc:
        await publisher.stop()
        raise connection_problem(settings, exc) from None
    except KafkaError as exc:
        await publisher.stop()
        raise ConfigError(f"Kafka at {bootstrap} refused the ingest setup: {exc}") from None
    log.info("ingest started", extra={"feeds": len(feeds), "feeds_file": str(path), "seen": len(seen)})
    health.set_ready("ingest")
    beating = background(health.heartbeat_loop(), "heartbeat")
    try:
        async with Poller(feeds, publisher, seen) as poller:
            if once:
                return await poller.run_once()
            await poller.run_forever(stop or asyncio.Event())
            return []
    finally:
        await cancel_all([beating])
        health.set_ready("ingest", False)
        await publisher.stop()
