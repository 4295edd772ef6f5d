"""The `watchfloor alert` stage: alert rules over the work the classify stage hands them.

Input `<prefix>.alerting.work`, keyed by alert rule id, so one worker holds all of a rule's
stories. State (stories and throttles) is the compacted `<prefix>.alerting.state`, partition for
partition with the work topic; an alert and the state change that fired it commit together
(core/stage.py), so a crash neither loses an alert nor fires it twice. Consumer group
`<prefix>-alerting`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from aiokafka import ConsumerRecord

from alerting.engine import AlertEngine, AlertState
from alerting.silences import SilenceBook, follow_silences
from core import health
from core.contracts import ClassifiedHeadline, read_message
from core.lag import report_lag
from core.metrics import ALERTS_FIRED, ALERTS_SUPPRESSED
from core.provisioning import provision
from core.settings import Settings
from core.stage import Output, TransactionalStage, Unprocessable
from core.state import CompactedState
from core.tasks import background, cancel_all
from core.topics import Topics
from rules.reload import LiveRules, keep_reloading, live_rules

log = logging.getLogger("watchfloor.alert")


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}-alerting"


class AlertHandler:
    """Runs the one alert engine (alerting/engine.py) on each work item, in offset order."""

    name = "alerting"

    def __init__(self, settings: Settings, live: LiveRules, topics: Topics, silences: SilenceBook) -> None:
        self.live = live
        self.topics = topics
        self.silences = silences
        self.store: CompactedState[bytes] = CompactedState(settings, topics.alerting_state, encode=bytes, decode=bytes)
        self.states: dict[int, AlertState] = {}
        self._engine: tuple[str, AlertEngine] | None = None

    def engine(self) -> AlertEngine:
        ruleset = self.live.current
        if self._engine is None or self._engine[0] != ruleset.version:
            self._engine = (ruleset.version, AlertEngine(ruleset, self.silences))
        return self._engine[1]

    async def assigned(self, partitions: Sequence[int]) -> None:
        await self.store.load(partitions)
        wanted = set(partitions)
        for p in partitions:
            self.states[p] = AlertState()
        for key, value in self.store.items():
            p = self.store.partition_of(key)
            if p in wanted:
                self.states[p].load(key, value)

    def revoked(self, partitions: Sequence[int]) -> None:
        self.store.drop(partitions)
        for p in partitions:
            self.states.pop(p, None)

    def process(self, partition: int, record: ConsumerRecord) -> list[Output]:
        try:
            item = json.loads(record.value)
            rule_id = item["rule"]
            headline = read_message(item["headline"])  # a headline.classified/1 of before an upgrade, too
            if not isinstance(headline, ClassifiedHeadline):
                raise TypeError(f"a {headline.schema_} message, not a classified headline")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Unprocessable(f"not an alerting work item: {exc}") from None
        step = self.engine().step(self.states[partition], rule_id, headline, headline.classified.timestamp())
        outputs = []
        for key, value in step.records:
            topic, part, key_bytes, value_bytes = self.store.apply(key, value, partition)
            outputs.append(Output(topic, key_bytes, value_bytes, part))
        if step.alert is not None:
            outputs.append(Output(self.topics.alerts, step.alert.id.encode(), step.alert.to_bytes()))
            ALERTS_FIRED.labels(rule_id).inc()
            log.info("alert fired", extra={"rule": rule_id, "alert": step.alert.id, "story": step.alert.story_id,
                                           "sources": step.alert.source_count, "title": step.alert.title[:120]})
        elif step.outcome in ("throttled", "silenced"):
            ALERTS_SUPPRESSED.labels(rule_id, "throttle" if step.outcome == "throttled" else "silence").inc()
            if step.silenced_by:
                log.info("alert silenced", extra={"rule": rule_id, "silence": step.silenced_by})
        return outputs

    def tick(self, partition: int, now: float) -> list[Output]:
        return []


async def prepare(settings: Settings, live: LiveRules) -> None:
    """Every planned topic exists (core/provisioning.py)."""
    await provision(settings, live.current.category_ids)


async def run_alerting(settings: Settings, live: LiveRules, stop: asyncio.Event) -> None:
    """The alerting loop until `stop`; topics must exist (see `prepare`)."""
    topics = Topics(settings.topic_prefix)
    silences = SilenceBook()
    stage = TransactionalStage(settings, AlertHandler(settings, live, topics, silences), topics.alerting_work,
                               consumer_group(settings), topics.processing_dead, ready_name="alert")
    helpers = [background(follow_silences(settings, silences, stop), "silences"),
               background(report_lag(settings, consumer_group(settings), topics.alerting_work), "alerting lag"),
               background(health.heartbeat_loop(), "heartbeat")]
    try:
        await stage.run(stop)
    finally:
        await cancel_all(helpers)


async def run_alert_stage(settings: Settings, stop: asyncio.Event, rules: Path | None = None) -> None:
    """`watchfloor alert`: rules checked, topics ensured, the loop run with hot rule reloads."""
    live = live_rules(settings, rules)
    await prepare(settings, live)
    reloading = background(keep_reloading(live, stop), "rule reloads")
    try:
        await run_alerting(settings, live, stop)
    finally:
        await cancel_all([reloading])
