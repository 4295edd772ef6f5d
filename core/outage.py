"""A Kafka outage said once: one warning when the connection is lost, a reminder every 30 s with
how long it has lasted, and one line when it is back.

aiokafka logs every failed attempt (about 90 lines a second with a few clients), which
buries everything else an operator needs to read. This filter sits on the log handler, swallows
those per-attempt lines while it is reporting an outage, and a small thread decides when the
cluster answers again (a TCP connect to a bootstrap address after a few quiet seconds).
"""

from __future__ import annotations

import logging
import socket
import threading
import time

log = logging.getLogger("watchfloor.kafka")

# Per-attempt connection failures, as aiokafka words them.
PATTERNS = (
    "Unable connect to node", "Unable to connect", "Unable to update metadata", "Unable to request metadata",
    "Failed fetch messages",
    "KafkaConnectionError", "NodeNotReadyError", "Connection refused", "Connect call failed",
    "Error connecting to node", "Failed to update metadata", "RequestTimedOutError", "Unable to bootstrap",
    "Heartbeat failed", "Group Coordinator Request failed", "Error sending HeartbeatRequest",
    "Topic metadata error", "Cannot get partitions for topic",
)
_ORIGINS = ("aiokafka", "kafka")
_SETTLING = ("NotEnoughReplicas", "NotLeaderForPartition", "LeaderNotAvailable")


class OutageReporter(logging.Filter):
    """Say a thing once, and again only when it changes (or every `remind_every` seconds)."""

    def __init__(self, remind_every: float = 30.0, quiet_for: float = 5.0, probe_every: float = 1.0) -> None:
        super().__init__()
        self.remind_every = remind_every
        self.quiet_for = quiet_for
        self.probe_every = probe_every
        self.addresses: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._since: float | None = None
        self._last_failure = 0.0
        self._last_said = 0.0
        self._hidden = 0
        self._watcher: threading.Thread | None = None

    @property
    def in_outage(self) -> bool:
        return self._since is not None

    def know(self, bootstrap: str) -> None:
        """The addresses probed to tell that the cluster is back."""
        addresses = []
        for item in bootstrap.split(","):
            host, _, port = item.strip().rpartition(":")
            if host and port.isdigit():
                addresses.append((host.strip("[]"), int(port)))
        with self._lock:
            self.addresses = addresses or self.addresses

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == log.name or not record.name.startswith(_ORIGINS) or record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        if "coordinator dead" in message.lower():
            # Also logged once at every healthy start, while the group coordinator settles: a
            # routine event, said at info level; during an outage one more repeated error.
            if self.in_outage:
                self._hidden += 1
                return False
            record.levelno, record.levelname = logging.INFO, "INFO"
            return True
        if "Got error produce response" in message and any(t in message for t in _SETTLING):
            # A partition still electing its leader or filling its ISR (right after topic creation,
            # or a broker restart): retried by the producer; a lasting one fails the send, and
            # that is logged where it is handled (a failed transaction).
            return False
        if not any(p in message for p in PATTERNS):
            return True
        self.failure(message)
        return False

    def failure(self, message: str) -> None:
        """One failed attempt: the first opens the outage with a warning, the rest are counted."""
        now = time.monotonic()
        with self._lock:
            self._last_failure = now
            if self._since is not None:
                self._hidden += 1
                return
            self._since, self._last_said, self._hidden = now, now, 0
            where = ", ".join(f"{h}:{p}" for h, p in self.addresses) or "the cluster"
        log.warning("lost the connection to Kafka at %s; retrying (repeated errors are held back): %s",
                    where, message[:300], extra={"outage": "start"})
        self._ensure_watcher()

    def _ensure_watcher(self) -> None:
        with self._lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._watcher = threading.Thread(target=self._watch, name="watchfloor-kafka-outage", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.probe_every)
            now = time.monotonic()
            with self._lock:
                since, last_failure, last_said, hidden = self._since, self._last_failure, self._last_said, self._hidden
            if since is None:
                return
            if now - last_failure >= self.quiet_for and self._answers():
                with self._lock:
                    self._since = None
                log.info("the connection to Kafka is back after %.0f s (%d repeated errors were held back)",
                         now - since, hidden, extra={"outage": "end", "outage_seconds": round(now - since, 1)})
                return
            if now - last_said >= self.remind_every:
                with self._lock:
                    self._last_said = now
                log.warning("Kafka still unreachable after %.0f s (%d repeated errors held back); retrying",
                            now - since, hidden, extra={"outage": "ongoing", "outage_seconds": round(now - since, 1)})

    def _answers(self) -> bool:
        with self._lock:
            addresses = list(self.addresses)
        if not addresses:
            return True  # nothing to probe: a quiet spell is the only sign there is
        for host, port in addresses:
            try:
                socket.create_connection((host, port), timeout=1.0).close()
                return True
            except OSError:
                continue
        return False


OUTAGE = OutageReporter()
