"""The classify stage's handler: raw headline in; classified, per-category and alert-work records
out, with the dedup mark, all in the input partition's transaction (see core/stage.py).

Dedup: a headline id republished within DEDUP_WINDOW is not emitted twice. The ids live in the
compacted `<prefix>.processing.seen` topic, partition for partition with the raw topic, so the
worker owning raw partition p holds exactly the ids of partition p.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

from aiokafka import ConsumerRecord

from core.metrics import CATEGORY_MATCHES, CLASSIFY_SECONDS, HEADLINES_CLASSIFIED, HEADLINES_DUPLICATE
from core.settings import Settings
from core.stage import Output
from core.state import CompactedState
from core.topics import Topics
from processors.classify import classify_headline, parse_raw
from rules.places.gazetteer import gazetteer
from rules.reload import LiveRules
from rules.routing import alert_work, event_bucket

DEDUP_WINDOW = 24 * 3600.0


def _stamp_bytes(stamp: float) -> bytes:
    return repr(stamp).encode()


class ClassifyHandler:
    """Pure per-record work; state changes are outputs, so they commit with everything else."""

    name = "classify"

    def __init__(self, settings: Settings, live: LiveRules, topics: Topics) -> None:
        self.live = live
        self.topics = topics
        self.seen: CompactedState[float] = CompactedState(
            settings, topics.processing_seen, encode=_stamp_bytes, decode=lambda b: float(b.decode()),
            ttl=DEDUP_WINDOW, stamp=lambda v: v)

    async def assigned(self, partitions: Sequence[int]) -> None:
        await asyncio.to_thread(gazetteer)  # ready before the first headline (started at process start)
        await self.seen.load(partitions)

    def revoked(self, partitions: Sequence[int]) -> None:
        self.seen.drop(partitions)

    def process(self, partition: int, record: ConsumerRecord) -> list[Output]:
        raw = parse_raw(record.value)
        if raw.id in self.seen:
            HEADLINES_DUPLICATE.inc()
            return []
        ruleset = self.live.current
        started = time.perf_counter()
        out = classify_headline(raw, ruleset)
        CLASSIFY_SECONDS.observe(time.perf_counter() - started)
        key, data = raw.id.encode(), out.to_bytes()
        outputs = [Output(self.topics.classified, key, data)]
        for match in out.categories:
            outputs.append(Output(self.topics.category(match.id), key, data))
            CATEGORY_MATCHES.labels(match.id).inc()
        rules = alert_work(ruleset, out)
        if rules is not None:
            # one work item per headline, with every rule it concerns (events span rules); a
            # follow-up ("death toll rises") concerns none, and may update an open event
            work = b'{"rules":' + json.dumps([r.id for r in rules]).encode() + b',"headline":' + data + b"}"
            outputs.append(Output(self.topics.alerting_work, event_bucket(out).encode(), work))
        topic, part, state_key, state_value = self.seen.apply(raw.id, time.time(), partition)
        outputs.append(Output(topic, state_key, state_value, part))
        HEADLINES_CLASSIFIED.inc()
        return outputs

    def tick(self, partition: int, now: float) -> list[Output]:
        """Tombstones for ids older than the window, so the dedup state stays two days at most."""
        outputs = []
        for key in self.seen.expired(now):
            if self.seen.partition_of(key) == partition:
                topic, part, state_key, state_value = self.seen.apply(key, None, partition)
                outputs.append(Output(topic, state_key, state_value, part))
        return outputs
