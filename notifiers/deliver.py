"""One alert to every channel of its tags. Channels are served concurrently and each one is
retried on its own (exponential backoff, full jitter) until it accepts the alert or its budget is
spent; then the alert goes to the dead-letter topic for that channel. `deliver` returns only when
every channel is settled (delivered, already delivered, or dead-lettered), which is what lets the
caller commit the alert's offset.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from notifiers.channels import Channel, Channels, SendOutcome
from notifiers.dead_letters import DeadLetters
from notifiers.delivery_log import DeliveryLog, delivery_key
from notifiers.format import AlertRenderer
from notifiers.metrics import DELIVERIES, DUPLICATES_SKIPPED
from core.contracts import Alert
from core.metrics import END_TO_END

log = logging.getLogger("watchfloor.notify")


@dataclass(frozen=True)
class RetryPolicy:
    """A channel's budget: at most `max_attempts` sends, and no retry that would start after
    `max_elapsed` seconds. Delays are "full jitter": uniform(0, min(cap, base * 2**n)), so a
    channel that comes back is not hit by every waiting alert at once."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 6
    max_elapsed: float = 120.0
    attempt_timeout: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Pause after the `failures`-th failed attempt (1-based)."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** (failures - 1)))


class Deliverer:
    def __init__(
        self,
        channels: Channels,
        delivery_log: DeliveryLog,
        dead_letters: DeadLetters,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.channels = channels
        self.log = delivery_log
        self.dead = dead_letters
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self._sending: dict[str, asyncio.Task] = {}  # delivery key -> the send in progress

    async def deliver(self, alert: Alert) -> None:
        """Settles every channel of the alert. Raises only if Kafka cannot take the delivery log or
        a dead letter, in which case the alert must not be committed."""
        renderer = AlertRenderer(alert)
        targets: dict[str, tuple[Channel, str]] = {}
        unrouted: list[str] = []
        for tag in dict.fromkeys(alert.notify):
            found = self.channels.for_tag(tag)
            if not found:
                unrouted.append(tag)
            for channel in found:
                targets.setdefault(channel.hash, (channel, tag))  # a channel under two tags gets it once
        async with asyncio.TaskGroup() as group:
            if not alert.notify:
                group.create_task(self._unroutable(alert, "", "the alert names no Apprise tag"))
            for tag in unrouted:
                where = f"in {self.channels.source}" if self.channels.source else "loaded"
                group.create_task(self._unroutable(alert, tag, f"no channel {where} has tag {tag!r}"))
            for channel, tag in targets.values():
                group.create_task(self._to_channel(alert, channel, tag, renderer))

    async def _unroutable(self, alert: Alert, tag: str, reason: str) -> None:
        log.warning("alert not deliverable: %s; sent to the dead-letter topic", reason, extra=_extra(alert, tag))
        await self.dead.publish(alert, tag=tag, channel="", reason=reason, attempts=0)
        DELIVERIES.labels(tag=tag, result="dead").inc()

    async def _to_channel(self, alert: Alert, channel: Channel, tag: str, renderer: AlertRenderer) -> None:
        """One send per alert and channel even when the same alert is on the topic twice and both
        copies are in flight at once: the second waits for the first, then finds it in the log."""
        key = delivery_key(alert.id, channel.hash)
        while key in self._sending:
            await asyncio.wait([self._sending[key]])  # its outcome is its own caller's to report
        task = asyncio.ensure_future(self._send_once(alert, channel, tag, renderer, key))
        self._sending[key] = task
        task.add_done_callback(lambda done: self._sending.pop(key, None) if self._sending.get(key) is done else None)
        await task

    async def _send_once(self, alert: Alert, channel: Channel, tag: str, renderer: AlertRenderer, key: str) -> None:
        extra = _extra(alert, tag, channel)
        if key in self.log:
            DUPLICATES_SKIPPED.labels(tag=tag).inc()
            log.info("already delivered to this channel; not sending again", extra=extra)
            return
        message = renderer.message(channel.kind)
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempts = 0
        while True:
            attempts += 1
            outcome: SendOutcome = await channel.send(message, timeout=self.policy.attempt_timeout)
            if outcome.ok:
                await self.log.record(key, alert_id=alert.id, rule_id=alert.rule_id, tag=tag, channel=channel.privacy_url)
                DELIVERIES.labels(tag=tag, result="ok").inc()
                observe_end_to_end(alert)
                log.info("alert delivered", extra={**extra, "attempts": attempts})
                return
            delay = self.policy.delay(attempts, self.rng)
            elapsed = loop.time() - started
            if attempts >= self.policy.max_attempts or elapsed + delay > self.policy.max_elapsed:
                break
            DELIVERIES.labels(tag=tag, result="retried").inc()
            log.warning(
                "delivery attempt %d failed (%s); retrying in %.2fs",
                attempts,
                outcome.reason,
                delay,
                extra=extra,
            )
            await asyncio.sleep(delay)
        elapsed = loop.time() - started
        reason = f"gave up after {attempts} attempt(s) in {elapsed:.1f}s: {outcome.reason}"
        await self.dead.publish(alert, tag=tag, channel=channel.privacy_url, reason=reason, attempts=attempts)
        DELIVERIES.labels(tag=tag, result="dead").inc()
        log.error("alert not delivered: %s; sent to the dead-letter topic", reason, extra={**extra, "attempts": attempts})


def observe_end_to_end(alert: Alert) -> None:
    """Feed fetch of the report that triggered the alert (the newest) to delivery."""
    fetched = [r.fetched for r in alert.reports if r.fetched is not None]
    if fetched:
        END_TO_END.observe(max(0.0, (datetime.now(timezone.utc) - max(fetched)).total_seconds()))


def _extra(alert: Alert, tag: str, channel: Channel | None = None) -> dict[str, object]:
    extra: dict[str, object] = {"alert": alert.id, "rule": alert.rule_id, "tag": tag}
    if channel is not None:
        extra["channel"] = channel.privacy_url
    return extra
