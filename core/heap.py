"""Taking a stage's start-up heap out of the cyclic garbage collector's walks.

A stage starts by building large, permanent structures: the places gazetteer alone is a quarter of
a million tuples, and with the rules and imported libraries a `process` worker holds ~370,000
objects. Every full collection walks them all again: 130 ms in which the stage's loop stands
still, which is what its 99th-percentile latency was made of. `gc.freeze()` moves what is alive
after start-up to a permanent generation the collector skips; objects made later are collected
as before, and anything frozen is still freed when its last reference goes.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("watchfloor.heap")


def settle_startup_heap() -> None:
    """Collects start-up garbage once, then freezes the survivors. Call when start-up is done."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info("start-up heap frozen", extra={"objects": gc.get_freeze_count(),
                                            "seconds": round(time.perf_counter() - started, 3)})
