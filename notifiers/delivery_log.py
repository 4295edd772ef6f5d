"""Which alert already reached which channel: the compacted topic `<prefix>.alerts.deliveries`,
keyed `<alert id>:<sha256 of the channel URL>` (never the URL). A record is written right after a
channel accepted an alert, and the whole topic is read back when the notifier starts (and on every
partition assignment), so an alert redelivered after a crash or a rebalance is not sent again to a
channel that already has it. Records older than the topic's retention (30 days, counted from
`delivered`) are not loaded, and are tombstoned after each load.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone


from core.durable import DurableProducer
from core.settings import Settings
from core.state import CompactedState
from core.topics import DAY_MS

log = logging.getLogger("watchfloor.notify")

DELIVERY_TTL = 30 * DAY_MS / 1000  # seconds: the deliveries topic's retention


def delivery_key(alert_id: str, channel_hash: str) -> str:
    return f"{alert_id}:{channel_hash}"


def _decode(raw: bytes) -> dict:
    record = json.loads(raw)
    if not isinstance(record, dict):
        raise ValueError(f"a delivery record is a JSON object, not {type(record).__name__}")
    return record


def _delivered_at(record: dict) -> float:
    return datetime.fromisoformat(record["delivered"]).timestamp()


class DeliveryLog:
    def __init__(self, settings: Settings, topic: str, producer: DurableProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.state: CompactedState[dict] = CompactedState(
            settings, topic, encode=lambda r: json.dumps(r).encode("utf-8"), decode=_decode, ttl=DELIVERY_TTL, stamp=_delivered_at
        )

    def __contains__(self, key: object) -> bool:
        return key in self.state

    def __len__(self) -> int:
        return len(self.state)

    async def load(self) -> int:
        """Merges the topic's records into memory, tombstones the expired ones; returns how many keys are known."""
        await self.state.load()
        expired = await self.state.expire(self.producer)
        if expired:
            log.info("delivery log: removed %d record(s) older than %d days", expired, DELIVERY_TTL // 86400)
        return len(self.state)

    async def record(self, key: str, *, alert_id: str, rule_id: str, tag: str, channel: str) -> None:
        """Waits for Kafka's ack: only then may the alert count as delivered to this channel.
        `channel` is the privacy URL (no secrets)."""
        value = {
            "alert": alert_id,
            "rule": rule_id,
            "tag": tag,
            "channel": channel,
            "delivered": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        await (await self.state.put(self.producer, key, value))
