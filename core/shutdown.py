"""A signal always ends the process within a bound, even when Kafka is unreachable.

A clean stop commits offsets and flushes producers, and both wait for the cluster. When it is
gone they could wait forever; after the deadline the process exits anyway. Nothing is lost by
that: what was not committed is read again at the next start (at-least-once).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

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


def run_until_signal(main: "Callable[[asyncio.Event], Awaitable[T]]") -> T:
    """Runs `main(stop)`; SIGINT/SIGTERM set `stop` (a clean stop) and start the deadline."""
    import asyncio
    import signal

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            stop.set()
            arm_stop_deadline()  # a stop that waits on an unreachable Kafka still ends

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        return await main(stop)

    return asyncio.run(runner())
