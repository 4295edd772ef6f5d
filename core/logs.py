"""Logging: readable on a terminal, one JSON object per line everywhere else."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from core.outage import OUTAGE

_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STD and not k.startswith("_")})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STD and not k.startswith("_"))
        base = f"{datetime.now().strftime('%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        text = f"{base}  {extras}" if extras else base
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _RetriableKafkaNoise(logging.Filter):
    """aiokafka logs some retriable conditions as errors, then retries: a partition leader not yet
    elected right after topic creation, the group coordinator not yet up on a fresh broker."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "NotLeaderForPartitionError" not in message and "GroupCoordinatorNotAvailableError" not in message


def setup_logging(level: str = "INFO", json_logs: bool | None = None) -> None:
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else ConsoleFormatter())
    handler.addFilter(OUTAGE)  # a Kafka outage is said once, not 90 times a second
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Apprise says "Sent JSON POST notification." for every send, beside the notifier's own
    # "alert delivered" (which names the alert and the channel); its warnings say why a send failed
    if root.level > logging.DEBUG:
        logging.getLogger("apprise").setLevel(logging.WARNING)
    for name in ("aiokafka.consumer.fetcher", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(name).addFilter(_RetriableKafkaNoise())
