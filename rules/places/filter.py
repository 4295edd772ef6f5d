"""Alert rules by place (`when.where`): resolved against the gazetteer once, when rules load, and
tested against a headline's places in the routing step (pure, no Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from rules.places.gazetteer import Gazetteer, distance_km


class HasPlace(Protocol):
    id: int
    kind: str
    country: str
    admin1: str | None
    lat: float
    lon: float


@dataclass(frozen=True)
class PlaceFilter:
    countries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()  # "UA.05"
    ids: frozenset[int] = frozenset()
    near: tuple[tuple[float, float, float], ...] = ()  # (lat, lon, km)

    def matches(self, places: Iterable[HasPlace]) -> bool:
        """Any place of the headline in any country, region, place or radius of the filter. A city
        is in its region and country; a region in its country."""
        for p in places:
            if p.country in self.countries or p.id in self.ids:
                return True
            if p.admin1 and f"{p.country}.{p.admin1}" in self.regions:
                return True
            if p.kind == "city":
                for lat, lon, km in self.near:
                    if distance_km(p.lat, p.lon, lat, lon) <= km:
                        return True
        return False


@dataclass
class Resolved:
    filter: PlaceFilter
    problems: list[tuple[tuple, str]] = field(default_factory=list)  # (path inside `where`, message)


def resolve(where: object, gaz: Gazetteer) -> Resolved:
    """`where` (rules.model.AlertWhere) to ids and codes; unknown names are problems with their path."""
    problems: list[tuple[tuple, str]] = []
    countries: set[str] = set()
    for j, c in enumerate(where.countries):  # type: ignore[attr-defined]
        if c.upper() in gaz.countries:
            countries.add(c.upper())
        else:
            found = gaz.place_named(c, "country")
            if found:
                countries.add(found[0].country)
            else:
                problems.append((("countries", j), f"unknown country {c!r} (use an ISO 3166-1 code such as UA, or its English name)"))
    regions: set[str] = set()
    for j, r in enumerate(where.regions):  # type: ignore[attr-defined]
        if r.upper() in gaz.regions:
            regions.add(r.upper())
            continue
        found = gaz.place_named(r, "region")
        if found:
            regions.update(f"{p.country}.{p.admin1}" for p in found)
        else:
            problems.append((("regions", j), f"unknown region {r!r} (a first-level region such as 'Donetsk Oblast', "
                                             f"'Kursk region', 'Донеччина', or a GeoNames code such as UA.05)"))
    ids: set[int] = set()
    for j, p in enumerate(where.places):  # type: ignore[attr-defined]
        if isinstance(p, str) and p.strip().isdigit():
            p = int(p)  # a GeoNames id written in quotes
        if isinstance(p, int):
            if p in gaz.by_id:
                ids.add(p)
            else:
                problems.append((("places", j), f"unknown GeoNames id {p}"))
            continue
        found = gaz.place_named(p)
        if found:
            own = [q for q in found if q.name.casefold() == p.casefold()]  # Pokrovsk, not Engels (once Pokrovsk)
            ids.update(q.id for q in (own or found))
        else:
            problems.append((("places", j), f"unknown place {p!r} (a city, region or country the gazetteer knows, or a GeoNames id)"))
    near = tuple((n.lat, n.lon, n.km) for n in where.near)  # type: ignore[attr-defined]
    if not (where.countries or where.regions or where.places or near):  # type: ignore[attr-defined]
        problems.append(((), "`where` names no country, region, place or point, so the rule could never fire"))
    return Resolved(PlaceFilter(frozenset(countries), frozenset(regions), frozenset(ids), near), problems)
