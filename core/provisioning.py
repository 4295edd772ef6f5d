"""`watchfloor topics plan | apply`: every topic the service needs, and how the cluster differs.

For clusters whose topics are provisioned by policy: `plan` prints what to create (the stages'
own topics and their state topics), `apply` creates what is missing and reports drift on
what exists without changing it. Partition counts and retention can only be raised by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from core.kafka import client_kwargs
from core.settings import Settings
from core.topics import DAY_MS, Topics, TopicSpec, ensure_topics


@dataclass(frozen=True)
class Planned:
    spec: TopicSpec
    owner: str  # which stage writes it

    @property
    def cleanup(self) -> str:
        return self.spec.config()["cleanup.policy"]


def plan(settings: Settings, categories: list[str]) -> list[Planned]:
    """Every topic of every stage, internal state topics included: nothing is created behind the
    operator's back when WATCHFLOOR_CREATE_TOPICS=false."""
    topics = Topics(settings.topic_prefix)
    owners = {topics.raw: "ingest", topics.ingest_seen: "ingest", topics.classified: "process",
              topics.processing_seen: "process (state)", topics.alerting_work: "process",
              topics.processing_dead: "process / alert", topics.alerts: "alert", topics.alerting_state: "alert (state)",
              topics.events: "alert",
              topics.alerts_dead: "notify", topics.deliveries: "notify", topics.silences: "silence / console"}
    return [Planned(s, owners.get(s.name, "process")) for s in topics.specs(categories)]


def format_plan(items: list[Planned], replication: int) -> str:
    rows = [("topic", "partitions", "replication", "retention", "cleanup", "key", "written by")]
    for item in items:
        s = item.spec
        rows.append((s.name, str(s.partitions), str(replication), f"{s.retention_ms // DAY_MS}d", item.cleanup, s.key, item.owner))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


@dataclass(frozen=True)
class Drift:
    topic: str
    setting: str
    planned: str
    actual: str

    def __str__(self) -> str:
        return f"drift: {self.topic}: {self.setting} is {self.actual}, the plan says {self.planned}"


async def cluster_replication(settings: Settings) -> int:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:  # stopped in `finally` even when start fails: no unclosed client
        await admin.start()
        return min(3, max(1, len((await admin.describe_cluster()).get("brokers", []))))
    finally:
        await admin.close()


async def apply(settings: Settings, items: list[Planned]) -> tuple[list[str], list[Drift]]:
    """Creates the missing topics; returns (created, drift of the ones that existed)."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:  # stopped in `finally` even when start fails: no unclosed client
        await admin.start()
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    present = [i for i in items if i.spec.name in existing]
    creating = settings.with_changes(create_topics=True)
    created = await ensure_topics(creating, [i.spec for i in items if i.spec.name not in existing])
    return created, await drift(settings, present)


async def drift(settings: Settings, items: list[Planned]) -> list[Drift]:
    if not items:
        return []
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    try:  # stopped in `finally` even when start fails: no unclosed client
        await admin.start()
        described = {t["topic"]: t for t in await admin.describe_topics([i.spec.name for i in items])}
        replication = min(3, max(1, len((await admin.describe_cluster()).get("brokers", []))))
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, i.spec.name) for i in items])
    finally:
        await admin.close()
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            configs[name] = {e[0]: e[1] for e in entries}
    out: list[Drift] = []
    for item in items:
        s = item.spec
        partitions = described.get(s.name, {}).get("partitions", [])
        if len(partitions) != s.partitions:
            out.append(Drift(s.name, "partitions", str(s.partitions), str(len(partitions))))
        replicas = min((len(p.get("replicas", [])) for p in partitions), default=0)
        if partitions and replicas < replication:
            out.append(Drift(s.name, "replication factor", str(replication), str(replicas)))
        actual = configs.get(s.name, {})
        for key, want in s.config().items():
            have = actual.get(key)
            if key == "cleanup.policy":
                same = have is not None and set(have.split(",")) == set(want.split(","))
            else:
                same = have == want
            if not same:
                out.append(Drift(s.name, key, want, str(have)))
    return out


async def provision(settings: Settings, categories: list[str]) -> None:
    """Every planned topic exists before a stage starts (created, or named as missing with
    WATCHFLOOR_CREATE_TOPICS=false); an unreachable cluster is one ConfigError line."""
    from core.kafka import connection_problem
    from core.settings import ConfigError

    try:
        await ensure_topics(settings, [p.spec for p in plan(settings, categories)])
    except ConfigError:
        raise
    except Exception as exc:
        raise connection_problem(settings, exc) from None
