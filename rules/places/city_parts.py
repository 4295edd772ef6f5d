"""Which city a district or suburb is part of, for grouping: "Удар по Салтівці" and "Glide bombs
strike Kharkiv" are one city's news, though GeoNames lists Saltivka, Obolon or Pechersk as towns of
their own. The tagger still names the district; only the events compare cities through this.

A town is part of a city when it lies within `RADIUS_KM` of a city at least `TIMES` its size in
the same country (13 km for a city of a million or more, 8 km for one of 300,000 or more): Kyiv's
districts (Obolon, Pechersk, Darnytsia, Holosiiv) are Kyiv, Saltivka and Pisochyn Kharkiv;
Vyshhorod and Vyshneve, 13–15 km from Kyiv's centre, stay towns of their own.

Building the pairs walks every city against every big one, so they are built once into
`data/city_parts.json` by `python -m rules.places.city_parts` and read from there;
tests/test_places.py checks that the file matches the gazetteer.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from rules.places.gazetteer import Gazetteer, distance_km

PARTS = Path(__file__).resolve().parent / "data" / "city_parts.json"
BIG, HUGE = 300_000, 1_000_000
RADIUS_KM = {HUGE: 13.0, BIG: 8.0}
TIMES = 3


def build(gaz: Gazetteer) -> dict[int, int]:
    """Town id -> the id of the biggest city it lies within reach of (see the module's text)."""
    cities = [p for p in gaz.places if p.kind == "city"]
    big: dict[str, list] = {}
    for p in cities:
        if p.population >= BIG:
            big.setdefault(p.country, []).append(p)
    out: dict[int, int] = {}
    for town in cities:
        best = None
        for city in big.get(town.country, ()):
            if city.id == town.id or town.population * TIMES > city.population:
                continue
            reach = RADIUS_KM[HUGE] if city.population >= HUGE else RADIUS_KM[BIG]
            if distance_km(town.lat, town.lon, city.lat, city.lon) <= reach and (best is None or city.population > best.population):
                best = city
        if best is not None:
            out[town.id] = best.id
    return out


@lru_cache(maxsize=1)
def _parts() -> dict[int, int]:
    return {int(k): v for k, v in json.loads(PARTS.read_text(encoding="utf-8")).items()}


def part_of(city_id: int) -> int:
    """The city a town is part of, or the town itself."""
    return _parts().get(city_id, city_id)


if __name__ == "__main__":
    from rules.places.gazetteer import gazetteer

    pairs = build(gazetteer())
    PARTS.write_text(json.dumps({str(k): v for k, v in sorted(pairs.items())}, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(pairs)} towns that are parts of a bigger city -> {PARTS}")
