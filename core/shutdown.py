"""A signal always ends the process within a bound, even when Kafka is unreachable.

A clean stop commits offsets and flushes producers, and both wait for the cluster. When it is
gone they could wait forever; after the deadline the process exits anyway. Nothing is lost by
that: what was not committed is read again at the next start (at-least-once).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("watchfloor.shutdown")

STOP_DEADLINE = 8.0  # seconds from the signal to the exit, at most; the promise is 10 s
_armed = threading.Event()


def arm_stop_deadline(seconds: float = STOP_DEADLINE, code: int = 1) -> None:
    """Starts the clock once; a clean stop that finishes first simply exits before it rings."""
    if _armed.is_set():
        return
    _armed.set()

    def expire() -> None:
        log.warning("still stopping after %.0f s (Kafka unreachable?): exiting now; uncommitted messages are read "
                  "again at the next start", seconds, extra={"deadline_seconds": seconds})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.name = "watchfloor-stop-deadline"
    timer.start()
