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

import json
import time

from alerting.engine import add_report, build_alert, concerned_rules, decide, group_key
from processors import kafka_patches
from processors.classify import BadMessage, classify_headline, parse_raw
from alerting.silences import SilenceBook, follow_silences
from rules.reload import LiveRules
from core import health
from core.contracts import ClassifiedHeadline, RawHeadline
from core.lag import report_lag
from core.metrics import (
    ALERTS_FIRED,
    ALERTS_SUPPRESSED,
    CATEGORY_MATCHES,
    HEADLINES_CLASSIFIED,
    HEADLINES_DUPLICATE,
    PROCESSING_ERRORS,
)
from core.settings import Settings
from core.shutdown import arm_stop_deadline
from core.topics import Topics, ensure_topics

log = logging.getLogger("watchfloor.process")

DEDUP_WINDOW = timedelta(hours=24)
STORY_KEY = "\x1f"  # alert-stories keys: rule id, this, story id


def build_app(
    settings: Settings,
    live: LiveRules,
    replication: int = 1,
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = (),  # type: ignore[assignment]
    reload_interval: float = 1.0,
    concurrency: int | None = None,
) -> faust.App:
    kafka_patches.apply()
    topics = Topics(settings.topic_prefix)
    if concurrency is None:
        # One actor: faust's commit-offset calculation misses a gap of a single unfinished message
        # when actors finish out of order, so concurrent actors could commit past a headline.
        # Throughput does not need them: outputs are queued, and their acks awaited off the stream.
        concurrency = settings.process_concurrency
    datadir = Path(settings.data_dir) / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.topic_prefix}-processors",  # = processors.service.consumer_group
        broker=f"kafka://{settings.require_bootstrap()}",
        broker_credentials=settings.security.faust_credentials(),  # the same TLS/SASL settings as every stage
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

    @app.agent(raw_topic, name="classify", concurrency=concurrency)
    async def classify(stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                await classify_one(event)
            except BadMessage as exc:
                log.error("skipping bad message on the raw topic: %s", exc,
                          extra={"partition": msg.partition, "offset": msg.offset})
            except Exception:  # an escaping exception would ack the message silently; say which one
                PROCESSING_ERRORS.labels("classify").inc()
                log.exception("failed to process a raw message; it is skipped",
                              extra={"partition": msg.partition, "offset": msg.offset})

    in_flight: set[str] = set()  # ids whose outputs are not yet acknowledged by Kafka
    marking: set[asyncio.Task] = set()

    async def classify_one(event: faust.EventT) -> None:
        raw = parse_raw(event.value)
        if raw.id in in_flight or seen_recently(raw.id):
            HEADLINES_DUPLICATE.inc()
            return
        in_flight.add(raw.id)
        try:
            sent = await emit(raw)
        except BaseException:
            in_flight.discard(raw.id)
            raise
        # Outputs first, dedup mark second: a crash in between re-sends (consumers dedup by key)
        # instead of marking a headline done whose outputs never reached Kafka. The mark waits
        # for the acks in the background (the task inherits this event's context, so the table
        # write lands in the event's changelog partition); the stream moves on meanwhile, and
        # faust flushes every output before it commits an offset.
        task = asyncio.ensure_future(mark_done(event, raw.id, sent))
        marking.add(task)
        task.add_done_callback(marking.discard)
        if len(marking) > 5000:
            await asyncio.wait(set(marking), return_when=asyncio.FIRST_COMPLETED)

    async def mark_done(event: faust.EventT, headline_id: str, sent: list) -> None:
        """`event` is held so the task's inherited event context stays valid for the table write."""
        try:
            await asyncio.gather(*sent)
            seen[headline_id] = 1
            HEADLINES_CLASSIFIED.inc()
        except Exception:
            PROCESSING_ERRORS.labels("classify").inc()
            log.exception("outputs of a headline were not acknowledged; it will be processed again if redelivered",
                          extra={"headline": headline_id, "partition": event.message.partition, "offset": event.message.offset})
        finally:
            in_flight.discard(headline_id)

    async def emit(raw: RawHeadline) -> list:
        """Queues every output of one headline; returns the futures of their acknowledgements."""
        ruleset = live.current
        out = classify_headline(raw, ruleset)
        key, data = raw.id.encode(), out.to_bytes()
        sent = [await classified_topic.send(key=key, value=data)]
        for match in out.categories:
            sent.append(await category_topic(match.id).send(key=key, value=data))
            CATEGORY_MATCHES.labels(match.id).inc()
        # Alert rules are stateful per rule: hand the headline to the partition owning each rule.
        for rule in concerned_rules(ruleset, out):
            handoff = b'{"rule":' + json.dumps(rule.id).encode() + b',"headline":' + data + b"}"
            sent.append(await alerting.send(key=rule.id.encode(), value=handoff))
        return sent

    # Alerting state, keyed by alert rule id (and group), co-partitioned with the alerting agent's input.
    # One entry per story ("<rule id>\x1f<story id>" -> story JSON), so an event writes the story
    # it touched, not the rule's whole story list; the lists live decoded in `story_cache`.
    stories = app.Table("alert-stories", default=None, key_type=str, value_type=bytes, partitions=topics.partitions)
    story_cache: dict[str, list[dict]] = {}
    throttles = app.Table("alert-throttles", default=None, key_type=str, value_type=bytes, partitions=topics.partitions)
    alerts_topic = app.topic(topics.alerts, key_type=bytes, value_type=bytes)
    silences = SilenceBook()

    @app.agent(name="alerting", key_type=bytes, value_type=bytes)
    async def alerting(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                await alert_one(event)
            except Exception:
                PROCESSING_ERRORS.labels("alerting").inc()
                log.exception("failed to evaluate alert rules for a headline; it is skipped",
                              extra={"partition": event.message.partition, "offset": event.message.offset})

    async def alert_one(event: faust.EventT) -> None:
        item = json.loads(event.value)
        ruleset = live.current
        rule = next((r for r in ruleset.alerts if r.id == item["rule"]), None)
        if rule is None:
            return  # the rule was removed by a reload since
        headline = ClassifiedHeadline.model_validate(item["headline"])
        now = headline.classified.timestamp()
        state = rule_stories(rule.id)
        before = {s["id"] for s in state}
        story = add_report(state, headline, rule, now)
        for gone in before - {s["id"] for s in state}:
            stories.pop(f"{rule.id}{STORY_KEY}{gone}", None)
        stories[f"{rule.id}{STORY_KEY}{story['id']}"] = json.dumps(story).encode()
        throttle_key = f"{rule.id}\x1f{group_key(rule, story)}"
        last = throttles.get(throttle_key)
        last_fired = max(float(last) if last else 0.0, firing.get(throttle_key, 0.0)) or None
        decision = decide(rule, state, story, last_fired, now)
        if decision.outcome == "throttled":
            ALERTS_SUPPRESSED.labels(rule.id, "throttle").inc()
            return
        if decision.outcome != "fire":
            return
        muted = silences.silencing(rule.id, story["title"], story["summary"])
        if muted is not None:
            ALERTS_SUPPRESSED.labels(rule.id, "silence").inc()
            log.info("alert silenced", extra={"rule": rule.id, "silence": muted.id, "story": story["id"]})
            return
        alert = build_alert(rule, story, decision, headline.id, now, ruleset.version)
        sent = await alerts_topic.send(key=alert.id.encode(), value=alert.to_bytes())
        # The throttle holds at once in memory; its table entry is written once the alert is on
        # the broker. A crash in between re-fires the same alert id, which notifiers send once.
        firing[throttle_key] = now
        task = asyncio.ensure_future(set_throttle(event, throttle_key, now, sent))
        marking.add(task)
        task.add_done_callback(marking.discard)
        ALERTS_FIRED.labels(rule.id).inc()
        log.info("alert fired", extra={"rule": rule.id, "alert": alert.id, "story": story["id"],
                                       "sources": alert.source_count, "title": alert.title[:120]})

    firing: dict[str, float] = {}  # throttles whose table write waits for the alert's ack

    def rule_stories(rule_id: str) -> list[dict]:
        """The rule's recent stories, oldest first, decoded once per rule after each rebalance.
        Called in an event's context: a list in the older one-entry-per-rule form is rewritten."""
        cached = story_cache.get(rule_id)
        if cached is not None:
            return cached
        prefix = rule_id + STORY_KEY
        state = [_decoded(v) for k, v in list(stories.items()) if isinstance(k, str) and k.startswith(prefix) and v]
        legacy = stories.get(rule_id)
        if legacy:
            for old in _decoded(legacy):
                if not any(s["id"] == old["id"] for s in state):
                    state.append(old)
                    stories[prefix + old["id"]] = json.dumps(old).encode()
            stories.pop(rule_id, None)
        state.sort(key=lambda s: s["first_seen"])
        story_cache[rule_id] = state
        return state

    watchdog: list[asyncio.Task] = []

    @app.on_partitions_assigned.connect
    async def start_recovery_watchdog(sender: object, *args: object, **kwargs: object) -> None:
        if not watchdog:  # app timers only start after the first recovery: too late for this one
            watchdog.append(asyncio.ensure_future(kafka_patches.watch_recovery(app)))

    @app.on_partitions_revoked.connect
    async def forget_stories(sender: object, *args: object, **kwargs: object) -> None:
        story_cache.clear()  # the table changes hands; decode again from what this worker holds

    async def set_throttle(event: faust.EventT, key: str, fired: float, sent: Any) -> None:
        """`event` is held so the task's inherited event context stays valid for the table write."""
        try:
            await sent
            throttles[key] = str(fired).encode()
        except Exception:
            PROCESSING_ERRORS.labels("alerting").inc()
            log.exception("an alert was not acknowledged by Kafka; its throttle is kept in memory only")
        else:
            if firing.get(key) == fired:
                del firing[key]

    @app.task
    async def keep_silences() -> None:
        await follow_silences(settings, silences)

    @app.task
    async def lag() -> None:
        await report_lag(settings, app.conf.id, topics.raw)

    @app.timer(interval=5.0)
    async def heartbeat() -> None:
        health.beat()

    @app.timer(interval=2.0)
    async def reread_dropped() -> None:
        if not app.rebalancing and not app.in_recovery:
            await kafka_patches.reread_stalled(app.consumer, after=5.0)

    @app.on_rebalance_complete.connect
    async def ready(sender: object, **kwargs: object) -> None:
        story_cache.clear()
        health.set_ready("process")
        log.info("processor ready", extra={"partitions": len(app.consumer.assignment())})

    @app.timer(interval=reload_interval)
    async def reload_rules() -> None:
        before = set(live.current.category_ids)
        if await asyncio.to_thread(live.maybe_reload):
            added = [c for c in live.current.category_ids if c not in before]
            if added:
                await ensure_topics(settings, [s for s in topics.specs(added) if s.name.startswith(f"{topics.prefix}.category.")])

    for task in tasks:
        app.task(task)
    return app


def _decoded(value: Any) -> Any:
    """Table values as written (JSON bytes), or as faust may hand them back after a recovery."""
    return json.loads(value) if isinstance(value, (bytes, str)) else value


class _Worker(faust.Worker):
    """faust's worker, with a bound on how long a stop may wait for Kafka (mode's public `on_stop` hook)."""

    async def on_stop(self) -> None:
        arm_stop_deadline()
        await super().on_stop()


def run_worker(app: faust.App) -> None:
    """Blocks until SIGINT/SIGTERM; faust commits offsets (after flushing sends) as it stops."""
    worker = _Worker(app, loglevel="WARNING", quiet=True, override_logging=False, redirect_stdouts=False)
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
