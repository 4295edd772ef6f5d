"""Which headline ids were already published, kept in the compacted `<prefix>.ingest.seen` topic.

Kafka is the store, so a restarted (or moved) ingest process knows what it published before
without a local database. The markers themselves are written by `HeadlinePublisher` next to the
headlines; here they are loaded (core/state.py) and noted once acknowledged. A marker older than
the topic's retention (30 days) is not loaded, even while Kafka has not yet deleted its segment;
the retention removes them from the topic, so no tombstones are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

from core.settings import Settings
from core.state import CompactedState
from core.topics import DAY_MS, Topics

SEEN_TTL = 30 * DAY_MS / 1000  # seconds: the ingest.seen topic's retention


def _decode(raw: bytes) -> dict:
    marker = json.loads(raw)
    if not isinstance(marker, dict):
        raise ValueError(f"a seen marker is a JSON object, not {type(marker).__name__}")
    return marker


def seen_state(settings: Settings, topic: str) -> CompactedState[dict]:
    return CompactedState(settings, topic, encode=lambda m: json.dumps(m).encode(), decode=_decode, ttl=SEEN_TTL)


class SeenIds:
    def __init__(self, state: CompactedState[dict] | None = None) -> None:
        """Without a state: an empty set that is never loaded (tests, dry runs)."""
        self.state = state or seen_state(Settings.model_construct(), Topics().ingest_seen)

    @classmethod
    async def load(cls, settings: Settings, topic: str) -> "SeenIds":
        state = seen_state(settings, topic)
        await state.load()
        return cls(state)

    def __contains__(self, headline_id: str) -> bool:
        return headline_id in self.state

    def __len__(self) -> int:
        return len(self.state)

    def add(self, headline_ids: Iterable[str]) -> None:
        """Notes ids whose markers Kafka has acknowledged (the publisher wrote them)."""
        at = datetime.now(timezone.utc).isoformat()
        for headline_id in headline_ids:
            self.state.apply(headline_id, {"schema": "ingest.seen/1", "at": at})
