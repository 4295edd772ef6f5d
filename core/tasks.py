"""Helper tasks beside a stage's loop (lag, heartbeat, reloads, silences), whose failure is said
when it happens, not found at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("watchfloor.tasks")


def background(coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
    task = asyncio.ensure_future(coro)
    task.set_name(name)

    def report(done: asyncio.Task) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("helper task %s failed: %s", name, done.exception(), exc_info=done.exception(),
                      extra={"task": name})

    task.add_done_callback(report)
    return task


async def cancel_all(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)  # failures were reported when they happened
