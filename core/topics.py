"""Topic names and their settings: the contract downstream consumers subscribe to.

Every stage calls `ensure_topics` on start, so topics exist with the partitions, retention
and cleanup policy below instead of the broker's defaults. `docs/topics.md` mirrors this file.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger("watchfloor.topics")

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    compacted: bool = False
    key: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        cfg = {"retention.ms": str(self.retention_ms), **self.extra}
        cfg.setdefault("cleanup.policy", "compact,delete" if self.compacted else "delete")
        return cfg


class Topics:
    """Names under one prefix (`WATCHFLOOR_TOPIC_PREFIX`), so tests and tenants never collide."""

    def __init__(self, prefix: str = "watchfloor", partitions: int = 6) -> None:
        self.prefix = prefix
        self.partitions = partitions

    @property
    def raw(self) -> str:
        return f"{self.prefix}.headlines.raw"

    @property
    def classified(self) -> str:
        return f"{self.prefix}.headlines.classified"

    def category(self, category_id: str) -> str:
        return f"{self.prefix}.category.{category_id}"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def alerts_dead(self) -> str:
        return f"{self.prefix}.alerts.dead"

    @property
    def ingest_seen(self) -> str:
        return f"{self.prefix}.ingest.seen"

    @property
    def deliveries(self) -> str:
        """Delivery log: which alert reached which channel (compacted, keyed alert id + channel)."""
        return f"{self.prefix}.alerts.deliveries"

    @property
    def silences(self) -> str:
        return f"{self.prefix}.silences"

    @property
    def processing_dead(self) -> str:
        """Messages a stage could not process, with the reason (dead letters of classify and alerting)."""
        return f"{self.prefix}.processing.dead"

    @property
    def processing_seen(self) -> str:
        """Classify's dedup state: headline ids done, co-partitioned with the raw topic (compacted)."""
        return f"{self.prefix}.processing.seen"

    @property
    def alerting_work(self) -> str:
        """Classified headlines handed to the alert rules they concern, all under one key (events)."""
        return f"{self.prefix}.alerting.work"

    @property
    def alerting_state(self) -> str:
        """Open events and throttles, co-partitioned with the work topic (compacted)."""
        return f"{self.prefix}.alerting.state"

    @property
    def events(self) -> str:
        """Each event's current state (event/1), keyed by event id (compacted): for consumers."""
        return f"{self.prefix}.events"

    def resolve(self, name: str) -> str:
        """Lets operators type `headlines.raw` for `<prefix>.headlines.raw`."""
        return name if name.startswith(self.prefix + ".") else f"{self.prefix}.{name}"

    def specs(self, categories: list[str] | tuple[str, ...] = ()) -> list[TopicSpec]:
        p = self.partitions
        specs = [
            TopicSpec(self.raw, p, 7 * DAY_MS, key="headline id"),
            TopicSpec(self.classified, p, 30 * DAY_MS, key="headline id"),
            TopicSpec(self.alerts, 3, 90 * DAY_MS, key="alert id"),
            TopicSpec(self.alerts_dead, 1, 90 * DAY_MS, key="alert id"),
            TopicSpec(self.ingest_seen, 3, 30 * DAY_MS, compacted=True, key="headline id"),
            TopicSpec(self.deliveries, 3, 30 * DAY_MS, compacted=True, key="alert id + channel hash"),
            TopicSpec(self.silences, 1, 365 * DAY_MS, compacted=True, key="silence id"),
            TopicSpec(self.processing_dead, 1, 90 * DAY_MS, key="input key"),
            TopicSpec(self.processing_seen, p, 2 * DAY_MS, compacted=True, key="headline id"),
            TopicSpec(self.alerting_work, p, 7 * DAY_MS, key="one key, events (every report meets every open event)"),
            TopicSpec(self.alerting_state, p, 30 * DAY_MS, compacted=True, key="event or throttle key"),
            TopicSpec(self.events, 3, 30 * DAY_MS, compacted=True, key="event id"),
        ]
        specs += [TopicSpec(self.category(c), 3, 30 * DAY_MS, key="headline id") for c in categories]
        return specs


async def ensure_topics(target: "Settings | str", specs: list[TopicSpec]) -> list[str]:
    """Creates the missing topics with their specs (never the broker's defaults); returns the
    names it created. `target` is the settings (security included) or a plaintext bootstrap.
    With WATCHFLOOR_CREATE_TOPICS=false a missing topic is an error naming it: clusters whose
    topics are provisioned by policy use `watchfloor topics apply` or their own tooling."""
    from core.kafka import client_kwargs
    from core.settings import ConfigError, Settings

    settings = target if isinstance(target, Settings) else Settings(bootstrap=target)
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:  # stopped in `finally` even when start fails: no unclosed client
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        if not settings.create_topics:
            raise ConfigError(f"missing topic(s) {', '.join(s.name for s in missing)} and WATCHFLOOR_CREATE_TOPICS=false: "
                              "create them with `watchfloor topics apply` (see `watchfloor topics plan`)")
        cluster = await admin.describe_cluster()
        replication = min(3, max(1, len(cluster.get("brokers", []))))
        new = [
            NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication, topic_configs=s.config())
            for s in missing
        ]
        resp = await admin.create_topics(new)
        created = []
        for name, code, message in _topic_errors(resp):
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise ConfigError(f"creating topic {name} failed: error {code} {message or ''} "
                                  "(create it with `watchfloor topics apply` by someone allowed to)".strip())
        if created:
            await _wait_for_leaders(admin, created)
            log.info("created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()


def _topic_errors(resp: object) -> list[tuple[str, int, str | None]]:
    out = []
    for item in getattr(resp, "topic_errors", []):
        name, code = item[0], item[1]
        message = item[2] if len(item) > 2 else None
        out.append((name, code, message))
    return out


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], timeout: float = 15.0) -> None:
    """New partitions are unusable until they have a leader; clients would log errors meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        described = await admin.describe_topics(names)
        if all(
            t.get("error_code", 0) == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        await asyncio.sleep(0.1)
