"""Alerts a channel could not take: `<prefix>.alerts.dead`, a DeadLetter per (alert, channel) or
per tag no channel has, keyed by alert id. The channel is Apprise's privacy URL and the reason is
scrubbed of secrets, so the topic can be read by anyone who may read alerts."""

from __future__ import annotations

from datetime import datetime, timezone


from notifiers.redact import redact
from core.contracts import Alert, DeadLetter
from core.durable import DurableProducer


class DeadLetters:
    def __init__(self, topic: str, producer: DurableProducer) -> None:
        self.topic = topic
        self.producer = producer

    async def publish(self, alert: Alert, *, tag: str, channel: str, reason: str, attempts: int) -> DeadLetter:
        """Waits for Kafka's ack, so the alert's offset may be committed afterwards."""
        letter = DeadLetter(
            alert=alert,
            tag=tag,
            channel=redact(channel),
            reason=redact(reason),
            attempts=attempts,
            failed=datetime.now(timezone.utc),
        )
        await self.producer.send_and_wait(self.topic, letter.to_bytes(), key=alert.id.encode("utf-8"))
        return letter
