"""The faust application: the classifying agent, its dedup table, and the rule reload timer.

Consumer group `<prefix>-processors` (so `watchfloor-processors` by default). Scale-out is more
workers in that group: each takes a share of the raw topic's partitions and the matching
partitions of the dedup table's changelog.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import faust

from processors.classify import BadMessage, classify_headline, parse_raw
from rules.reload import LiveRules
from watchfloor.metrics import CATEGORY_MATCHES, HEADLINES_CLASSIFIED, HEADLINES_DUPLICATE
from watchfloor.settings import Settings
from watchfloor.topics import Topics, ensure_topics

log = logging.getLogger("watchfloor.process")

DEDUP_WINDOW = timedelta(hours=24)


def build_app(
    settings: Settings,
    live: LiveRules,
    replication: int = 1,
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = (),  # type: ignore[assignment]
    reload_interval: float = 1.0,
) -> faust.App:
    topics = Topics(settings.topic_prefix)
    datadir = Path(settings.data_dir) / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.topic_prefix}-processors",
        broker=f"kafka://{settings.require_bootstrap()}",
        store="memory://",  # tables are rebuilt from their Kafka changelogs on start
        web_enabled=False,
        topic_partitions=topics.partitions,  # changelog partitions must equal the raw topic's
        topic_replication_factor=replication,
        topic_disable_leader=True,
        table_standby_replicas=0,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
        broker_commit_interval=1.0,
        table_cleanup_interval=60.0,
        datadir=str(datadir),
    )
    raw_topic = app.topic(topics.raw, key_type=bytes, value_type=bytes)
    classified_topic = app.topic(topics.classified, key_type=bytes, value_type=bytes)
    category_topics: dict[str, faust.TopicT] = {}

    def category_topic(category: str) -> faust.TopicT:
        topic = category_topics.get(category)
        if topic is None:
            topic = category_topics[category] = app.topic(topics.category(category), key_type=bytes, value_type=bytes)
        return topic

    # Headline ids processed in the last 24-48 h: a redelivered headline is not emitted twice.
    seen = app.Table(
        "seen-headlines", default=None, key_type=str, value_type=int, partitions=topics.partitions,
        extra_topic_configs={"cleanup.policy": "compact,delete"},
    ).tumbling(DEDUP_WINDOW, expires=DEDUP_WINDOW * 2)

    def seen_recently(headline_id: str) -> bool:
        window = seen[headline_id]
        for lookup in (window.current, lambda: window.delta(DEDUP_WINDOW)):
            try:
                lookup()
                return True
            except KeyError:
                pass
        return False

    @app.agent(raw_topic, name="classify")
    async def classify(stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                raw = parse_raw(event.value)
            except BadMessage as exc:
                log.error("skipping bad message on the raw topic: %s", exc,
                          extra={"partition": msg.partition, "offset": msg.offset})
                continue
            if seen_recently(raw.id):
                HEADLINES_DUPLICATE.inc()
                continue
            out = classify_headline(raw, live.current)
            key, value = raw.id.encode(), out.to_bytes()
            await classified_topic.send(key=key, value=value)
            for match in out.categories:
                await category_topic(match.id).send(key=key, value=value)
                CATEGORY_MATCHES.labels(match.id).inc()
            seen[raw.id] = 1
            HEADLINES_CLASSIFIED.inc()

    @app.timer(interval=reload_interval)
    async def reload_rules() -> None:
        before = set(live.current.category_ids)
        if await asyncio.to_thread(live.maybe_reload):
            added = [c for c in live.current.category_ids if c not in before]
            if added:
                await ensure_topics(settings.require_bootstrap(), [s for s in topics.specs(added) if s.name.startswith(f"{topics.prefix}.category.")])

    for task in tasks:
        app.task(task)
    return app


def run_worker(app: faust.App) -> None:
    """Blocks until SIGINT/SIGTERM; faust commits offsets (after flushing sends) as it stops."""
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False, redirect_stdouts=False)
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
