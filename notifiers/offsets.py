"""Commit points for alerts processed out of order. Alerts of a partition are delivered
concurrently and finish in any order, but a committed offset means "everything before it is
settled": so per partition the commit point only moves up to the lowest unfinished alert.
"""

from __future__ import annotations

from collections import deque
from typing import Hashable, Iterable


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[Hashable, deque[int]] = {}
        self._done: dict[Hashable, set[int]] = {}
        self._position: dict[Hashable, int] = {}
        self._committed: dict[Hashable, int] = {}

    def started(self, tp: Hashable, offset: int) -> None:
        """Offsets of a partition must be started in increasing order (as Kafka hands them out)."""
        self._pending.setdefault(tp, deque()).append(offset)
        self._done.setdefault(tp, set())

    def finished(self, tp: Hashable, offset: int) -> None:
        if tp not in self._pending:
            return  # the partition was revoked meanwhile
        self._done[tp].add(offset)
        pending, done = self._pending[tp], self._done[tp]
        while pending and pending[0] in done:
            settled = pending.popleft()
            done.discard(settled)
            self._position[tp] = settled + 1

    def unfinished(self, tp: Hashable) -> int:
        return len(self._pending.get(tp, ())) - len(self._done.get(tp, ()))

    def to_commit(self, tps: Iterable[Hashable] | None = None) -> dict[Hashable, int]:
        """Next offset to commit per partition, for those that moved since the last commit."""
        chosen = self._position.keys() if tps is None else [tp for tp in tps if tp in self._position]
        return {tp: self._position[tp] for tp in chosen if self._committed.get(tp) != self._position[tp]}

    def committed(self, offsets: dict[Hashable, int]) -> None:
        self._committed.update(offsets)

    def forget(self, tps: Iterable[Hashable]) -> None:
        """A revoked partition: its next owner starts again from the committed offset."""
        for tp in tps:
            for table in (self._pending, self._done, self._position, self._committed):
                table.pop(tp, None)
