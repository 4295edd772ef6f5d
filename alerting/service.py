"""The `watchfloor alert` stage: alert rules over the work the classify stage hands them.

Input `<prefix>.alerting.work`: one item per classified headline that concerns an alert rule,
with the rules it concerns, all under one key (rules/routing.py, `event_bucket`), so one worker
holds every open event and every report can meet it. State (open events and throttles) is the compacted
`<prefix>.alerting.state`, partition for partition with the work topic; an alert, the event's
public state on `<prefix>.events` and the state change that fired it commit together
(core/stage.py), so a crash neither loses an alert nor fires it twice. A tick every second
sends the alerts whose group wait or update interval has passed. Consumer group
`<prefix>-alerting`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from aiokafka import ConsumerRecord

from alerting.meaning import meanings as shared_meanings
from alerting.engine import SILENCED, THROTTLED, AlertEngine, AlertStep, is_follow_up
from alerting.state import AlertState
from alerting.silences import SilenceBook, follow_silences
from core import health
from core.contracts import ClassifiedHeadline, read_message
from core.lag import report_lag
from core.metrics import ALERTS_FIRED, ALERTS_SUPPRESSED, FOLLOW_UPS
from core.provisioning import provision
from core.settings import Settings
from core.stage import Output, TransactionalStage, Unprocessable
from core.state import CompactedState
from core.tasks import background, cancel_all
from core.topics import Topics
from rules.places.gazetteer import capital_ids, gazetteer
from rules.reload import LiveRules, keep_reloading, live_rules

log = logging.getLogger("watchfloor.alert")


def consumer_group(settings: Settings) -> str:
    return f"{settings.topic_prefix}-alerting"


class AlertHandler:
    """Runs the one alert engine (alerting/engine.py) on each work item, in offset order."""

    name = "alerting"

    def __init__(self, settings: Settings, live: LiveRules, topics: Topics, silences: SilenceBook) -> None:
        self.settings = settings
        self.live = live
        self.topics = topics
        self.silences = silences
        self.store: CompactedState[bytes] = CompactedState(settings, topics.alerting_state, encode=bytes, decode=bytes)
        if settings.event_meaning:
            shared_meanings().load()  # a missing model stops the stage here, not on its first report
        capital_ids()  # read once here (0.7 s), not while the first talks report waits (alerting/grouping.py)
        self.states: dict[int, AlertState] = {}
        self._clock: dict[int, tuple[float, float]] = {}  # partition -> (last classified time, monotonic then)
        self._engine: tuple[str, AlertEngine] | None = None

    def engine(self) -> AlertEngine:
        ruleset = self.live.current
        if self._engine is None or self._engine[0] != ruleset.version:
            self._engine = (ruleset.version, AlertEngine(
                ruleset, self.silences, group_wait=self.settings.event_group_wait,
                update_interval=self.settings.event_update_interval, max_updates=self.settings.event_max_updates,
                meanings=shared_meanings() if self.settings.event_meaning else None))
        return self._engine[1]

    async def assigned(self, partitions: Sequence[int]) -> None:
        # grouping reads sources' regions and speaking capitals with the places gazetteer
        # (alerting/grouping.py): ready before the first report (loading since the process started)
        await asyncio.to_thread(gazetteer)
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
            self._clock.pop(p, None)

    def process(self, partition: int, record: ConsumerRecord) -> list[Output]:
        try:
            item = json.loads(record.value)
            rule_ids = item["rules"] if "rules" in item else [item["rule"]]  # one rule per item before events
            if not isinstance(rule_ids, list) or not all(isinstance(r, str) for r in rule_ids):
                raise TypeError("rules is a list of alert rule ids")
            headline = read_message(item["headline"])  # a headline.classified/1 of before an upgrade, too
            if not isinstance(headline, ClassifiedHeadline):
                raise TypeError(f"a {headline.schema_} message, not a classified headline")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Unprocessable(f"not an alerting work item: {exc}") from None
        stamp = headline.classified.timestamp()
        self._clock[partition] = (stamp, time.monotonic())
        engine = self.engine()
        step = engine.step(self.states[partition], headline, rule_ids, stamp)
        if is_follow_up(engine.ruleset, headline):
            FOLLOW_UPS.labels("joined" if step.event_id else "dropped").inc()
            if not step.event_id:
                log.debug("follow-up dropped: no open event at its place", extra={"headline": headline.id})
        return self._outputs(partition, step)

    def tick(self, partition: int, now: float) -> list[Output]:
        """The alerts whose group wait or update interval has passed, on the stream's clock: the
        last report's classification time plus the time since it was processed. Catching up on a
        backlog, that clock follows the reports (a message is not sent before the rest of its
        event's reports are read); idle, it follows the wall clock."""
        state = self.states.get(partition)
        if state is None:
            return []
        last = self._clock.get(partition)
        clock = now if last is None else min(now, last[0] + (time.monotonic() - last[1]))
        return self._outputs(partition, self.engine().flush(state, clock))

    def _outputs(self, partition: int, step: AlertStep) -> list[Output]:
        outputs = []
        for key, value in step.records:
            topic, part, key_bytes, value_bytes = self.store.apply(key, value, partition)
            outputs.append(Output(topic, key_bytes, value_bytes, part))
        for event in step.events:
            outputs.append(Output(self.topics.events, event.id.encode(), event.to_bytes()))
        for event_id in step.merged:  # merged into an event written above: gone from the table
            outputs.append(Output(self.topics.events, event_id.encode(), None))
        for alert in step.alerts:
            outputs.append(Output(self.topics.alerts, alert.id.encode(), alert.to_bytes()))
            for rule_id in alert.rules:
                ALERTS_FIRED.labels(rule_id).inc()
            log.info("alert fired" if alert.kind != "update" else "update sent",
                     extra={"rule": alert.rule_id, "rules": alert.rules, "alert": alert.id, "event": alert.event_id,
                            "kind": alert.kind, "sources": alert.source_count, "title": alert.title[:120]})
        for rule_id, outcome in step.outcomes.items():
            if outcome in (THROTTLED, SILENCED):
                ALERTS_SUPPRESSED.labels(rule_id, "throttle" if outcome == THROTTLED else "silence").inc()
        for rule_id, silence in step.silenced_by.items():
            log.info("alert silenced", extra={"rule": rule_id, "silence": silence})
        return outputs


async def prepare(settings: Settings, live: LiveRules) -> None:
    """Every planned topic exists (core/provisioning.py)."""
    await provision(settings, live.current.category_ids)


async def run_alerting(settings: Settings, live: LiveRules, stop: asyncio.Event) -> None:
    """The alerting loop until `stop`; topics must exist (see `prepare`)."""
    topics = Topics(settings.topic_prefix)
    silences = SilenceBook()
    stage = TransactionalStage(settings, AlertHandler(settings, live, topics, silences), topics.alerting_work,
                               consumer_group(settings), topics.processing_dead, ready_name="alert", tick_every=1.0)
    helpers = [background(follow_silences(settings, silences, stop), "silences"),
               background(report_lag(settings, consumer_group(settings), topics.alerting_work), "alerting lag"),
               background(health.heartbeat_loop(), "heartbeat")]
    try:
        await stage.run(stop)
    finally:
        await cancel_all(helpers)


async def run_alert_stage(settings: Settings, stop: asyncio.Event, rules: Path | None = None) -> None:
    """`watchfloor alert`: rules checked, topics ensured, the loop run with hot rule reloads."""
    places = background(asyncio.to_thread(gazetteer), "places gazetteer")  # loads while Kafka connects
    live = live_rules(settings, rules, stage="alert")
    await prepare(settings, live)
    reloading = background(keep_reloading(live, stop), "rule reloads")
    try:
        await run_alerting(settings, live, stop)
    finally:
        await cancel_all([reloading, places])
