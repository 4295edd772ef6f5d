"""Which headline ids were already published, kept in the compacted `<prefix>.ingest.seen` topic.

Kafka is the store, so a restarted (or moved) ingest process knows what it published before
without a local database. Entries expire with the topic's retention (30 days).
"""

from __future__ import annotations

from core.kafka import read_to_end
from core.settings import Settings


class SeenIds:
    def __init__(self, ids: set[str] | None = None) -> None:
        self._ids: set[str] = ids or set()

    @classmethod
    async def load(cls, settings: Settings, topic: str) -> "SeenIds":
        records = await read_to_end(settings, topic)
        ids = {key.decode() for key, value in records if key is not None and value is not None}
        return cls(ids)

    def __contains__(self, headline_id: str) -> bool:
        return headline_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, headline_ids: list[str]) -> None:
        self._ids.update(headline_ids)
