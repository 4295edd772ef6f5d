"""The start-up heap is frozen out of the collector's walks, and later garbage is still collected."""

from __future__ import annotations

import gc
import weakref

from core.heap import settle_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_startup_objects_are_frozen_and_later_cycles_still_collected() -> None:
    kept = [Node() for _ in range(1000)]  # start-up state
    try:
        settle_startup_heap()
        assert gc.get_freeze_count() >= len(kept)
        a, b = Node(), Node()  # a cycle made after start-up, then dropped
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None, "a cycle made after start-up must still be collected"
    finally:
        gc.unfreeze()
