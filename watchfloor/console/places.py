"""The places of a headline or alert, as the console's map gets them: only the documented fields,
checked, because they come from Kafka (another stage's output, derived from feed text) and end up
in a browser.

A place is `{"id", "name", "kind", "country", "admin1", "lat", "lon"}`, most specific first.
"""

from __future__ import annotations

import math
from itertools import islice
from typing import Any

MAX_PLACES = 10
MAX_NAME = 200
_LOOKED_AT = 50  # entries examined: a huge list costs no more than this
KINDS = ("city", "region", "country")


def clean_places(value: Any) -> list[dict]:
    """At most 10 places with finite, in-range coordinates; an entry without them is dropped
    (a marker cannot be placed), other fields that are wrong become null."""
    if not isinstance(value, list):
        return []
    out = []
    for entry in islice(value, _LOOKED_AT):
        place = _clean(entry) if isinstance(entry, dict) else None
        if place is not None:
            out.append(place)
            if len(out) == MAX_PLACES:
                break
    return out


def _clean(entry: dict) -> dict | None:
    lat, lon = _coordinate(entry.get("lat"), 90.0), _coordinate(entry.get("lon"), 180.0)
    if lat is None or lon is None:
        return None
    place_id = entry.get("id")
    kind = entry.get("kind")
    return {"id": place_id if isinstance(place_id, int) and not isinstance(place_id, bool) else None,
            "name": _text(entry.get("name"), MAX_NAME) or "",
            "kind": kind if kind in KINDS else None,
            "country": _text(entry.get("country"), 3),
            "admin1": _text(entry.get("admin1"), 20),
            "lat": lat, "lon": lon}


def _coordinate(value: Any, limit: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too large for a float
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def _text(value: Any, cap: int) -> str | None:
    return value[:cap] if isinstance(value, str) and value else None
