"""Which alert already reached which channel: the compacted topic `<prefix>.alerts.deliveries`,
keyed `<alert id>:<sha256 of the channel URL>` (never the URL). A record is written right after a
channel accepted an alert, and the whole topic is read back when the notifier starts (and on every
partition assignment), so an alert redelivered after a crash or a rebalance is not sent again to a
channel that already has it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer

from core.kafka import read_to_end
from core.settings import Settings

log = logging.getLogger("watchfloor.notify")


def delivery_key(alert_id: str, channel_hash: str) -> str:
    return f"{alert_id}:{channel_hash}"


class DeliveryLog:
    def __init__(self, settings: Settings, topic: str, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self._keys: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    async def load(self) -> int:
        """Merges the topic's records into memory; returns how many keys are known."""
        records = await read_to_end(self.settings, self.topic)
        for key, value in records:
            if key is None:
                continue
            name = key.decode("utf-8", "replace")
            if value is None:  # a tombstone: forgotten on purpose
                self._keys.discard(name)
            else:
                self._keys.add(name)
        return len(self._keys)

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
        await self.producer.send_and_wait(self.topic, json.dumps(value).encode("utf-8"), key=key.encode("utf-8"))
        self._keys.add(key)
