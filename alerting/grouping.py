"""Which reports are one event: ten feeds in three languages reporting one strike are one event,
and a drone attack on Odesa and one on Kharkiv in the same hour are two.

A report becomes a `Signature`: its categories, its places (GeoNames ids, the same whatever the
language), its time, and light word stems in one alphabet (Cyrillic is transliterated, so
Yantar / Янтар / Янтарь and Тернополю / Ternopil share a stem), numbers included. A report
joins an open event when

- they share a category, and the report is at most `GAP` after the event's last report and
  `SPAN` after its first;
- their places do not conflict: two reports that both name cities must share one (or one's
  city lies in the other's region), and two that name regions must share one; a report naming
  no city or region from a source named for a region ("Telegram: Харківська ОВА") is about
  that region (`home_regions`);
- and either they share a specific place (a city, or a region when that is the most specific
  either names), or they share an anchor (a rare word, a name, a number that is not round) and
  their words are `SAME_WORDS` alike (IDF weights of alerting/word_weights.py) or their keys
  (places, names, numbers: alike in any language) `SAME_KEYS` alike, against any of the
  event's first reports. A name's five-sound key carries it across alphabets; two reports in
  Latin letters share a name only by the word itself (`shared_anchors`).
- or one names a region and no city, the other a city in it, and their words are `REGION_WORDS`
  alike (`in_region`);
- or, sharing no place and no anchor, they are one wording retold: `NEAR_WORDS` alike and
  sharing one of their `HEAVY` heaviest words (wire copy that names a country and no city);
  or both name one country and no city or region, share one of their `TOP` heaviest words,
  and their words (not their keys, which would be the country alone) are `SAME_WORDS` alike.
- A report counting 20 or more weapons launched (the night's tally), or telling a massive attack
  on the whole country without a city ("ВС РФ нанесли массированный удар … по объектам энергетики
  Украины"), is about the night's attack: two such reports of Ukraine within `NIGHT` of each other
  are one event, whatever their words (`one_night`); such a report and a one-city report are
  compared on their words alone; a report naming several cities is about the first
  (alerting/event_book.py keeps a report of one city out of another city's event).
- Another party's response (a denial, a dismissal, a threat of retaliation: `is_response`; the
  Kremlin or Russia's diplomats speaking of what Russia is no party to: `moscow_aside`) is a happening of its own: it
  joins only reports that are responses too (`apart_as_responses`).
- A capital that speaks ("Moscow says …", "В Москве заявили …") is its country (`speaking_capitals`).
- In a talks, deal or swap report (`venue`), a capital names the government, not the place
  ("Киев намерен получить Rafale", "Лондон ввёл санкции"): it keeps the report apart from no
  other city (`Signature.fixed_cities`).
- A follow-up report (all its categories `follow_up: true`: "death toll in Ternopil rises to
  26", "rescuers clear the rubble in Ternopil") joins an event of a category its rule `follows`
  (any, when it names none), but only one at
  a place both name, and never opens an event (alerting/engine.py).

Thresholds were tuned on the tune half of tests/data/events.jsonl and are reported on its test
half by bench/events.py. Two reports that share no place must share an anchor (a rare word, a
name, a number): candidates come from an index by place id and anchor, exact for these rules,
and anchors are rare, so the cost of a report does not follow the number of open events.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from alerting.meaning import across
from alerting.word_weights import idf_table, weight as english_weight
from alerting.word_weights import stem as english_stem
from rules.places.forms import tokens_with_case
from rules.places.city_parts import part_of
from rules.places.gazetteer import CITY_REGIONS, Place, capital_ids, centre_of, distance_km
from rules.places.tagger import tag

GAP = 12 * 3600.0  # a report more than 12 h after an event's last one starts a new event
SPAN = 36 * 3600.0  # and no event takes reports for more than 36 h after its first
SAME_PLACE = 0.12
SAME_WORDS = 0.35
TALLY_WORDS = 0.45  # the night's tally and one city's strike: only their words can join them (0.4 before
# English words became their concepts only, which made English reports alike in more words)
SAME_KEYS = 0.4
REGION_WORDS = 0.3  # words of a region-only report and a report of a city in that region (`in_region`)
COUNTRY_WORDS = 0.45  # one country, no shared anchor, each with an anchor of its own (`same_event`)
NEAR_WORDS = 0.45  # two reports this alike in words, sharing one of their HEAVY heaviest, need no place or anchor
HEAVY = 3  # heaviest words indexed for `_one_wording` (2 before session 24, with NEAR_WORDS 0.5)
TOP = 4  # heaviest words indexed with a country for `_one_country`
RARE_STEM = 8.5  # an English stem this heavy (in at most ~1 in 1,500 headlines) is an anchor
_YEAR = re.compile(r"^#(19|20)\d\d$")
NAME_IDF = 8.0  # an English word this rare (at most ~1 in 1,000 headlines) is a name: a key
CITY_KEY, REGION_KEY, COUNTRY_KEY = 9.0, 4.0, 2.0
NAME_WEIGHT = 8.0  # a capitalised Cyrillic word not at the start: a name, as rare as an English one
CYRILLIC_WEIGHT = 4.0  # any other Cyrillic word: no Ukrainian or Russian corpus to weigh it by
NUMBER_WEIGHT = 7.0
SWAP = 6 * 3600.0  # two reports of a swap of prisoners or bodies this close in time are that one swap (`one_swap`)
NIGHT = 6 * 3600.0  # two reports of the night's attack on Ukraine this close in time are that one night (`one_night`)
NEAR_KM = 25.0  # cities this close to a report's first city are that city (its districts, its suburbs)

_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "ye", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ю": "yu", "я": "ya", "ы": "y", "э": "e", "ъ": "", "ё": "e", "'": "",
})
_UKRAINIAN_LETTERS = set("іїєґ")
_RUSSIAN_LETTERS = set("ыэъё")
_LATIN_SUFFIXES = ("ings", "ing", "ied", "ies", "ed", "es", "s")
_NUMBER = re.compile(r"\d")
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня "
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split())
_CLOCK = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])")  # "о 13:05": a time of day, not a count
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?![\d]|[.,]\d)")  # 1,000 / 1 000 / 1 000 000
STEM = 5


def transliterate(word: str, language: str) -> str:
    """Latin letters for a lower-case Cyrillic word. Г is g in both languages: names in the news
    are mostly foreign ones spelt with g in English (Ердоган, Гроссі, Гданськ); Ukrainian
    places, spelt with h, are compared by their ids."""
    del language
    return word.translate(_TRANSLIT)


def stem(word: str) -> str:
    """The first five letters after English inflections and a final "e" (line, lines, lined): one
    stem for Ternopil, Тернополю, Тернополь."""
    if word.isdigit():
        return "#" + word
    word = _unsuffixed(word)
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word[:STEM]


_SOUNDS = (("shch", "sh"), ("sht", "st"), ("shp", "sp"), ("kh", "h"), ("ck", "k"), ("ch", "4"), ("sh", "5"), ("zh", "6"), ("ts", "7"),
           ("c", "k"), ("q", "k"), ("x", "ks"), ("w", "v"), ("ph", "f"), ("h", "g"), ("y", "i"), ("o", "a"), ("e", "i"))
_DOUBLE = re.compile(r"(.)\1+")


def sound_key(word: str) -> str:
    """A name as it sounds, alike in both alphabets once transliterated: Driscoll, Дрісколл and
    Дрисколлом are "~drisk"; Erdogan and Ердоганом "~irdag"; Witkoff and Віткофф "~vitka". Letters
    that spell one sound are one letter, unstressed vowels (o/a, e/i/y) one vowel, doubles single;
    h and g one (English spells Ukrainian Г as h: Hrytsenko and Гриценко "~gri7i", Yevhen and
    Евгений "~ivgin"); Cyrillic's "шт" and "шп" are German's "st" and "sp" (Рамштайн is Ramstein,
    Штутгарт Stuttgart); the first five, like `stem`."""
    for a, b in _SOUNDS:
        word = word.replace(a, b)
    return "~" + _DOUBLE.sub(r"\1", word)[:STEM]


def guess_language(text: str, declared: str | None) -> str:
    """The feed's declared language, else Cyrillic letters only one of uk/ru has, else en."""
    if declared:
        return declared.split("-")[0].lower()
    letters = set(text.casefold())
    if letters & _UKRAINIAN_LETTERS:
        return "uk"
    if letters & _RUSSIAN_LETTERS or any("\u0400" <= c <= "\u04ff" for c in letters):
        return "ru"
    return "en"


@lru_cache(maxsize=8192)
def word_stems(title: str, language: str) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]:
    """(stems, keys) of a title, each (stem, weight), each stem once with its heaviest weight.

    Stems are every word; keys are what reads alike in any language: numbers, names
    (capitalised Cyrillic words not at the start, Latin words in Cyrillic text, rare English
    words) in one alphabet."""
    stems, keys, _, _ = _words(title, language)
    return stems, keys


@lru_cache(maxsize=8192)
def latin_names(title: str, language: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the sound keys of a title that come from words in Latin letters only, and those words
    whole, "!intermediary"): see `shared_anchors`."""
    return _words(title, language)[2:]


@lru_cache(maxsize=8192)
def _words(title: str, language: str) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...], frozenset[str],
                                              frozenset[str]]:
    stems: dict[str, float] = {}
    keys: dict[str, float] = {}
    latin: set[str] = set()
    cyrillic: set[str] = set()
    words_: set[str] = set()
    cyrillic_text = language in ("uk", "ru", "be", "bg") or any("\u0400" <= c <= "\u04ff" for c in title)
    if _THOUSANDS.search(title):  # "1,000 bodies" and "1000 тел" are one number
        title = _THOUSANDS.sub(lambda m: "".join(c for c in m.group(0) if c.isdigit()), title)
    if ":" in title:
        title = _CLOCK.sub(" ", title)
    tokens = tokens_with_case(title)
    for i, (written, folded) in enumerate(tokens):
        if len(folded) < 2 and not folded.isdigit():
            continue
        name, meaning = False, None
        if _NUMBER.search(folded):
            digits = "".join(c for c in folded if c.isdigit())
            if len(digits) < 2 or len(digits) > 7:
                continue  # "1", "3": counts of anything; years and ids say little
            token, w = "#" + digits, NUMBER_WEIGHT
            # a count is a key; a day of the month ("19 листопада", "Nov. 19th") is not
            name = int(digits) > 31 or (folded.isdigit() and not _next_to_month(tokens, i))
        elif folded.isascii():
            token = stem(folded)
            w = english_weight(english_stem(folded))
            name = w >= NAME_IDF or (cyrillic_text and written[:1].isupper())
            meaning = concept(folded)
        else:
            token = stem(transliterate(folded, language))
            meaning = concept(folded)
            # capitalised and not first: a name, unless the lexicon knows it as a common word
            # ("России", "Україні": the countries every report names, as English "Russia" is no key)
            name = i > 0 and written[:1].isupper() and not (meaning and _lexicon()[2][meaning] < NAME_IDF)
            w = NAME_WEIGHT if name else CYRILLIC_WEIGHT
        if meaning is not None:  # "лазери" and "lasers" share "=laser": one word in any language
            stems[meaning] = _lexicon()[2][meaning]
        # an English word of a concept is that concept only: kept beside it, it counted twice
        # between two English reports that both use it, and one that used it and one that did not
        # grew less alike with every concept the lexicon gained (session 21: "US may ask UN to
        # mandate a force in Gaza, document shows" fell out of its event when "document" became one)
        if (meaning is None or not folded.isascii()) and w > stems.get(token, 0.0):
            stems[token] = w
        if name:
            if not token.startswith("#"):
                token = sound_key(folded if folded.isascii() else transliterate(folded, language))
                if folded.isascii():
                    latin.add(token)
                    words_.add("!" + _unsuffixed(folded))
                else:
                    cyrillic.add(token)
            keys[token] = max(keys.get(token, 0.0), NAME_WEIGHT if not token.startswith("#") else NUMBER_WEIGHT)
    return tuple(sorted(stems.items())), tuple(sorted(keys.items())), frozenset(latin - cyrillic), frozenset(words_)


def _next_to_month(tokens: list[tuple[str, str]], i: int) -> bool:
    """The number at `i` is a day: a month's name is next to it ("19 листопада", "November 19")."""
    return any(0 <= j < len(tokens) and tokens[j][1] in _MONTHS for j in (i - 1, i + 1))


def _unsuffixed(word: str) -> str:
    """A Latin word without its English inflection, whole (`stem` keeps five letters)."""
    for suffix in _LATIN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


LEXICON_FILE = Path(__file__).with_name("lexicon.yaml")


@lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, str], dict[str, str], dict[str, float], int]:
    """(beginning -> concept token, whole word -> concept token, concept token -> weight, longest
    beginning) from alerting/lexicon.yaml. A concept weighs what its English word (its name)
    does in English headlines."""
    data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    starts: dict[str, str] = {}
    whole: dict[str, str] = {}
    weights: dict[str, float] = {}
    for concept, languages in data.items():
        token = "=" + concept
        weights[token] = english_weight(english_stem(concept.split("_")[0]))
        for beginnings in languages.values():
            for b in beginnings:
                (whole if b.endswith("$") else starts)[b.rstrip("$")] = token
    return starts, whole, weights, max(map(len, starts))


def concept(word: str) -> str | None:
    """The lexicon's concept of a lower-case word in any of its languages ("=missile" for
    missiles, ракетний, ракеты), or None."""
    starts, whole, _, longest = _lexicon()
    found = whole.get(word)
    if found is not None:
        return found
    for n in range(min(len(word), longest), 2, -1):
        found = starts.get(word[:n])
        if found is not None:
            return found
    return None


# English function words, as stems: headlines drop most of them, so the few that remain weigh
# like rare words ("so far", "yet"), yet they say nothing about which event a report is about
_FUNCTION = frozenset(stem(w) for w in (
    "a an the and or but nor so yet if than then as at by for from in into of off on onto out over "
    "to up upon with within without about above after against along amid among around before behind "
    "below beneath beside between beyond despite down during except inside near past since through "
    "toward towards under until via is are was were be been being am has have had do does did not no "
    "far still just also even ever never now soon only again already once here there this that these "
    "those it its he she they them their his her him we us our you your i me my who whom whose which "
    "what when where why how while whether all any both each every few many more most much some such "
    "other another own same very too can could may might must shall should will would").split()) | frozenset(
    # and Ukrainian and Russian ones, as their transliterated stems: Cyrillic words have no
    # weights of their own (no corpus here), so every other one is rare enough to anchor
    stem(transliterate(w, "")) for w in (
        "в у і й та а але або що як не ні є це цей ця ці той та ті його її їх їхній вже ще також лише "
        "на до від з із зі по за про після через під над біля для при без між серед протягом щодо "
        "він вона воно вони ми ви я був була було були буде будуть може можуть має мають "
        "во с со из от о об после под при без между среди около для и но или что как не нет это "
        "этот эта эти тот те он она оно они мы вы был была было были будет будут может могут "
        "уже ещё еще также только его её ее их").split())


def _norm(items: tuple[tuple[str, float], ...]) -> float:
    return math.fsum(w * w for _, w in items)


@dataclass(frozen=True, slots=True)
class Signature:
    """What grouping needs of one report; plain data, kept with the event's reports."""

    at: float
    categories: frozenset[str]
    cities: frozenset[int]
    regions: frozenset[str]  # "UA:22": the regions named, and those the named cities lie in
    named_regions: frozenset[str]  # only the regions named as regions
    countries: frozenset[str]
    stems: tuple[tuple[str, float], ...]
    keys: tuple[tuple[str, float], ...] = ()
    tally: bool = False  # counts weapons launched at the whole country: the night's attack, not one city's
    first_city: int = 0  # the city it names first (0: none): a report naming several is about that one first
    near_first: frozenset[int] = frozenset()  # other cities it names within NEAR_KM of the first: one place
    follow_up: bool = False  # only follow-up categories ("death toll rises"): joins an event at its place, opens none
    venue: bool = False  # only venue categories (talks, deals): its city is where, not what; sharing it is not enough
    latin: frozenset[str] = frozenset()  # its sound keys spelt only in Latin letters (see `shared_anchors`)
    names: frozenset[str] = frozenset()  # its names in Latin letters, whole ("!intermediary"): anchors
    follows: frozenset[str] = frozenset()  # a follow-up's: the categories of the events it may update (empty: any)
    home: frozenset[str] = frozenset()  # a report naming no city or region: the regions its source's name names (`home_regions`)
    text: str = field(default="", compare=False)  # its title, for its meaning (alerting/meaning.py)
    language: str = field(default="", compare=False)
    norm: float = field(init=False, compare=False)  # squared masses, computed once
    key_norm: float = field(init=False, compare=False)
    stem_map: dict[str, float] = field(init=False, compare=False, repr=False)  # stems as a dict, for cosines
    key_map: dict[str, float] = field(init=False, compare=False, repr=False)
    anchors: frozenset[str] = field(init=False, compare=False, repr=False)  # see `anchors`
    heavy: frozenset[str] = field(init=False, compare=False, repr=False)  # its HEAVY heaviest word stems
    top: frozenset[str] = field(init=False, compare=False, repr=False)  # its TOP heaviest (see `_one_country`)
    numbers: frozenset[str] = field(init=False, compare=False, repr=False)  # its numbers, round ones too, not years
    response: bool = field(init=False, compare=False, repr=False)  # another party's response (`is_response`)
    aside: bool = field(init=False, compare=False, repr=False)  # Moscow on what Russia is no party to (`moscow_aside`)
    soft: frozenset[int] = field(init=False, compare=False, repr=False)  # capitals a venue report names (`fixed_cities`)

    def __post_init__(self) -> None:
        # a report is compared with many members, each member with many reports: what a
        # comparison reads is computed once here, not per comparison
        object.__setattr__(self, "norm", _norm(self.stems))
        object.__setattr__(self, "key_norm", _norm(self.keys))
        object.__setattr__(self, "stem_map", dict(self.stems))
        object.__setattr__(self, "key_map", dict(self.keys))
        object.__setattr__(self, "anchors", _anchors(self.stems, self.keys) | self.names)
        words = sorted((t for t in self.stems if not t[0].startswith("#") and t[0] not in _FUNCTION),
                       key=lambda t: (-t[1], t[0]))
        object.__setattr__(self, "heavy", frozenset(t for t, _ in words[:HEAVY]))
        object.__setattr__(self, "top", frozenset(t for t, _ in words[:TOP]))
        object.__setattr__(self, "numbers", frozenset(t for t, _ in self.stems if t.startswith("#") and not _YEAR.match(t)))
        object.__setattr__(self, "aside", moscow_aside(self.text))
        object.__setattr__(self, "response", self.aside or is_response(self.text))
        object.__setattr__(self, "soft", self.cities & capital_ids() if self.venue and self.cities else frozenset())

    @property
    def fixed_cities(self) -> frozenset[int]:
        """The cities that keep it apart from reports of other cities: all it names, but a talks,
        deal or swap report's capitals (`venue`), which as often name the government as the
        place ("Киев намерен получить до 100 Rafale", "Лондон ввёл санкции против 20 танкеров",
        "Moscow dismisses …"); where the talks were is told by a name, a number and words then."""
        return self.cities - self.soft if self.soft else self.cities

    @property
    def own_cities(self) -> frozenset[int]:
        """The city it is about: its one city, or the first it names of several (wave headlines
        name the worst-hit first) with those that lie within NEAR_KM of it (a city's district,
        "Obolon, Kyiv", is the city); empty when it names none."""
        if len(self.cities) == 1:
            return self.cities
        return frozenset([self.first_city]) | self.near_first if self.first_city else frozenset()

    def to_json(self) -> dict:
        return {"at": self.at, "c": sorted(self.categories), "ci": sorted(self.cities), "r": sorted(self.regions),
                "nr": sorted(self.named_regions), "co": sorted(self.countries), "s": [list(x) for x in self.stems],
                "k": [list(x) for x in self.keys], "t": self.tally, "fc": self.first_city, "nf": sorted(self.near_first),
                "fu": self.follow_up, "v": self.venue, "l": sorted(self.latin), "nm": sorted(self.names),
                "fo": sorted(self.follows), "h": sorted(self.home), "tx": self.text, "lg": self.language}

    @classmethod
    def from_json(cls, d: dict) -> "Signature":
        return cls(float(d["at"]), frozenset(d["c"]), frozenset(d["ci"]), frozenset(d["r"]), frozenset(d["nr"]),
                   frozenset(d["co"]), tuple((str(t), float(w)) for t, w in d["s"]),
                   tuple((str(t), float(w)) for t, w in d.get("k", ())), bool(d.get("t", False)), int(d.get("fc", 0)),
                   frozenset(int(c) for c in d.get("nf", ())), bool(d.get("fu", False)), bool(d.get("v", False)),
                   frozenset(d.get("l", ())), frozenset(d.get("nm", ())), frozenset(d.get("fo", ())),
                   frozenset(d.get("h", ())), str(d.get("tx", "")), str(d.get("lg", "")))


_CYRILLIC_NAME = re.compile(r"[\u0400-\u04ff]{3}")
_TWIN_REGIONS = {**CITY_REGIONS, **{city: oblast for oblast, city in CITY_REGIONS.items()}}  # either way round


# A city's own administration or council ("Telegram: Рада оборони Кривого Рогу", "Криворізька МВА",
# "Мэрия Белгорода"): unlike an outlet named for its city, it speaks only of its city
_CITY_ADMIN = re.compile(r"\b[КK]?(МВА|МДА|ГВА|ГГА)\b|міськ\w* рад|міськрад|міськ\w* голов|рад\w* оборони|мэри"
                         r"|городск\w* (администрац|дум|глав)|\bмэр\b|\bмер\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def home_regions(source: str) -> frozenset[str]:
    """The regions a source's name names ("Telegram: Харківська ОВА", "Одесская волна", "Telegram:
    губернатор Рязанской области"): a region's administration or outlet, whose report naming no
    place ("Удар по багатоповерхівці: є загиблі") is about its region. Not a city in the name:
    "Kyiv Independent" is a national paper, and "Суспільне Одеса" cannot be told from it; but a
    city's own administration (`_CITY_ADMIN`) is its city's, so its region's. Only a
    name in Cyrillic letters: Ukraine's and Russia's regional administrations and outlets are
    named for their oblast, while in English a national paper may be named for a state (The New
    York Times, The Washington Post)."""
    if not _CYRILLIC_NAME.search(source):
        return frozenset()
    places = tag(source)
    regions = {f"{p.country}:{p.admin1}" for p in places if p.kind == "region" and p.admin1}
    if _CITY_ADMIN.search(source):  # a city's own administration: its city's region
        regions |= {f"{p.country}:{p.admin1}" for p in places if p.kind == "city" and p.admin1}
    return frozenset(regions | {_TWIN_REGIONS[r] for r in regions if r in _TWIN_REGIONS})


# A capital that speaks is its government ("Moscow says overnight strike hit Ukrainian energy sites",
# "…, Kyiv says", "В Москве заявили …", "Київ вимагає …"): the report happened in no city there.
_SPEAKS_EN = re.compile(
    r"\b([A-Z][\w'’-]+) (says|said|claims|claimed|warns|warned|accuses|accused|denies|denied|demands|demanded|rejects"
    r"|rejected|dismisses|dismissed|vows|vowed|threatens|threatened|urges|urged|insists|insisted|responds|responded"
    r"|confirms|confirmed|condemns|condemned|blames|blamed|slams|slammed|summons|summoned|refuses|refused|calls|called)\b")
# a capital spoken to, as its government: "МИД России потребовал от Таллина освободить танкер"
_ADDRESSED = re.compile(r"(?:потребова|требу|вимага|закликал|призвал|призыва)\w* (?:від|от) ([А-ЯІЇЄҐ][а-яіїєґё'’-]+)")
_SPEAKS_CYRILLIC = re.compile(
    r"(?:\b[вуВУ] )?\b([А-ЯІЇЄҐ][а-яіїєґё'’-]+) (?:\w+ )?(заяв|назва|пригроз|погроз|потребова|требу|вимага|відповів|ответил"
    r"|отверг|відкину|обвин|звинув|призва|призыва|заклика|настаива|наполяга|подтверд|підтверд|опроверг|спростува"
    r"|осуди|осужда|засуди|засуджу|предупред|попереди|попереджа)")


@lru_cache(maxsize=8192)
def speaking_capitals(title: str) -> frozenset[int]:
    """The capitals a title has speak (`_SPEAKS_EN`, `_SPEAKS_CYRILLIC`), or be spoken to
    (`_ADDRESSED`: "потребовал от Таллина"): GeoNames ids of the
    cities, which grouping reads as their countries. The tagger keeps them as written (a
    headline's places are what it names); only grouping needs to know that "Kyiv says …" is no
    news of Kyiv's."""
    words = [m.group(1) for m in _SPEAKS_EN.finditer(title)]
    words += ["в " + m.group(1) for m in _SPEAKS_CYRILLIC.finditer(title)]  # "в" lets a declined name be read
    words += ["з " + m.group(1) for m in _ADDRESSED.finditer(title)]
    if not words:
        return frozenset()
    capitals = capital_ids()
    return frozenset(p.id for w in words for p in tag(w) if p.kind == "city" and p.id in capitals)


# A court's seat ("Суд в Харькове приговорил оккупанта за расстрел жителя Изюма", "Lublin court
# jails …", "court in Rzeszów"): where a trial sits, not where the crime was; reports of the
# verdict name the crime's town as often
_COURT_SEAT = re.compile(r"\b(?i:суд)\w{0,2} (?:у|в|во) ([А-ЯІЇЄҐ][\w'’-]+)"
                         r"|\b([A-Z][\w'’-]+) (?:district |regional |military )?court\b|\bcourt in ([A-Z][\w'’-]+)")


@lru_cache(maxsize=8192)
def court_cities(title: str) -> frozenset[int]:
    """The cities a title names as a court's seat (`_COURT_SEAT`): GeoNames ids, which grouping
    reads as their countries, as it does a capital that speaks."""
    words = [next(g for g in m.groups() if g) for m in _COURT_SEAT.finditer(title)]
    if not words:
        return frozenset()
    return frozenset(p.id for w in words for p in tag(w if w.isascii() else "в " + w) if p.kind == "city")


_REGION_CENTRE = re.compile(r"обласн\w* центр|областн\w* центр|regional (centre|center|capital)", re.IGNORECASE)
_CAPITAL = re.compile(r"\bстолиц|\bthe capital\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def home_city(source: str) -> Place | None:
    """The city whose own administration the source is (`_CITY_ADMIN`): the city its name names
    ("Telegram: Рада оборони Кривого Рогу", "Криворізька МВА"), or, named by its oblast's
    adjective, that oblast's centre ("Харківська МВА" is Kharkiv's, "Київська МВА" Kyiv's). A
    report of it naming no place is its city's: "Внаслідок атаки загинули четверо людей, 27
    постраждалих" from Kyiv's is the strike on Kyiv."""
    if not _CYRILLIC_NAME.search(source) or not _CITY_ADMIN.search(source):
        return None
    places = tag(source)
    cities = {p.id: p for p in places if p.kind == "city"}
    if not cities:
        centres = (centre_of(f"{p.country}:{p.admin1}") for p in places if p.kind == "region" and p.admin1)
        cities = {c.id: c for c in centres if c is not None}
    return next(iter(cities.values())) if len(cities) == 1 else None


_KYIV_WORD = re.compile(r"\bстолиц(я|і|ю|ею)\b", re.IGNORECASE)  # Ukrainian's own forms: Kyiv, in its news


def home_centres(source: str, title: str, countries: frozenset[str] = frozenset()) -> list[Place]:
    """The city a regional source means by "обласний центр" (its region's centre) or "столиця"
    (its country's capital) in a report that names no place: "6 грудня в обласному центрі
    оголошено днем жалоби" from the Zaporizhzhia oblast's administration is Zaporizhzhia's
    mourning; "Столиця під масованою атакою" from Kyiv's is Kyiv's. A city's own administration's
    report is its city's (`home_city`); and "столиця", in Ukrainian's own forms, is Kyiv from any
    source when the report names no country but Ukraine (`countries`: "у столиці Литви" is
    Vilnius; Russian «столица» may be Moscow)."""
    city = home_city(source)
    if city is not None:
        return [city]
    centre, capital = _REGION_CENTRE.search(title), _CAPITAL.search(title)
    if not (centre or capital):
        return []
    home = home_regions(source)
    if capital and not centre and not home and countries <= {"UA"} and _KYIV_WORD.search(title):
        kyiv = centre_of("UA")
        return [kyiv] if kyiv is not None else []
    keys = set(home) if centre else {r.split(":")[0] for r in home}
    found = {p.id: p for p in map(centre_of, sorted(keys)) if p is not None}
    return list(found.values()) if len(found) == 1 else []  # two centres: which one is not said


def signature(at: float, categories: list[str], places: list[dict], title: str, language: str,
              follow_up: bool = False, venue: bool = False, follows: frozenset[str] = frozenset(),
              source: str = "") -> Signature:
    """`follow_up`: every category of the report is a follow-up one (rules' `follow_up: true`),
    and `follows` the categories of the events it may update (their `follows`; empty: any);
    `venue`: every one is a venue one (`venue: true`); `source`: the publisher's name (`home_regions`)."""
    # a district is its city ("Удар по Салтівці" is Kharkiv's news): rules/places/city_parts.py
    places = [{**p, "id": part_of(p["id"])} if p["kind"] == "city" else p for p in places]
    centre_of_home = home_regions(source) if source and _REGION_CENTRE.search(title) else frozenset()
    if centre_of_home:
        # "в Дніпровському районі обласного центру" from Kherson's administration: its centre's
        # district, not the namesake the tagger found in Kyiv; a city outside its region is such a misreading
        centres = home_centres(source, title)
        if centres:
            places = [p for p in places if p["kind"] != "city" or f"{p['country']}:{p.get('admin1')}" in centre_of_home]
            places += [c.as_dict() for c in centres if c.id not in {p["id"] for p in places}]
    if source and not any(p["kind"] in ("city", "region") for p in places):
        places = places + [c.as_dict() for c in home_centres(source, title, frozenset(p["country"] for p in places))]
    named_city = any(p["kind"] == "city" for p in places)
    speaking = (speaking_capitals(title) | court_cities(title)) if named_city else frozenset()
    if speaking:  # a capital that speaks is its country ("Moscow says …"), and so is a court's seat
        places = [{**p, "kind": "country"} if p["kind"] == "city" and p["id"] in speaking else p for p in places]
    cities = frozenset(p["id"] for p in places if p["kind"] == "city")
    named_regions = frozenset(f"{p['country']}:{p['admin1']}" for p in places if p["kind"] == "region" and p.get("admin1"))
    regions = named_regions | {f"{p['country']}:{p['admin1']}" for p in places if p["kind"] == "city" and p.get("admin1")}
    countries = frozenset(p["country"] for p in places)
    stems, keys = word_stems(title, language)
    home = home_regions(source) if source and not cities and not named_regions else frozenset()
    place_keys = [(f"@c{c}", CITY_KEY) for c in cities] + [(f"@r{r}", REGION_KEY) for r in regions | home]
    place_keys += [(f"@n{c}", COUNTRY_KEY) for c in countries]
    named = [p for p in places if p["kind"] == "city"]
    first = named[0] if named else {"id": 0}
    near = frozenset(p["id"] for p in named[1:] if p["id"] != first["id"]
                     and distance_km(p["lat"], p["lon"], first["lat"], first["lon"]) <= NEAR_KM)
    return Signature(at, frozenset(categories), cities, frozenset(regions), named_regions, countries, stems,
                     tuple(sorted({**dict(keys), **dict(place_keys)}.items())),
                     is_tally(title) or is_nationwide(title, cities, named_regions, countries), first["id"], near,
                     follow_up, venue, *latin_names(title, language), follows,
                     home, title, language)


_WEAPONS = ("drone", "missile", "rocket", "shahed", "uav", "weapon", "дрон", "ракет", "безпілот", "беспилот", "бпла", "шахед",
            "засоб", "цілей", "целей")  # "704 aerial weapons", "80 воздушных целей", "засобів повітряного нападу"
_DIGITS = re.compile(r"^\d{2,4}$")
_OVERNIGHT = frozenset(("ніч", "ночь", "добу", "сутки"))  # "за ніч", "за сутки": said between a count and its weapons


@lru_cache(maxsize=8192)
def is_tally(title: str) -> bool:
    """"Russia fires 476 drones and 48 missiles at Ukraine", "ворог застосував 476 ударних БпЛА":
    a count of weapons (20 or more) launched. Such a report is about the night's attack as a
    whole; naming the worst-hit city does not make it that city's strike."""
    ws = [w for _, w in tokens_with_case(title)]
    ws = [w for i, w in enumerate(ws) if not (w == "за" and i + 1 < len(ws) and ws[i + 1] in _OVERNIGHT)
          and not (w in _OVERNIGHT and i and ws[i - 1] == "за")]  # "120 збитих за ніч безпілотників"
    for i, w in enumerate(ws):
        if not (_DIGITS.match(w) and int(w) >= 20):
            continue
        nxt = ws[i + 1:i + 3]  # "476 drones", "476 ударних БпЛА", "48 ballistic missiles"
        if nxt and (nxt[0].startswith(_WEAPONS) or (len(nxt) == 2 and nxt[0] not in _LINKS and nxt[1].startswith(_WEAPONS))):
            return True
        out_of = ws[i + 1:i + 4]  # "down 121 of 152 targets", "збито 121 з 152 цілей"
        if (len(out_of) == 3 and out_of[0] in _OUT_OF and _DIGITS.match(out_of[1])
                and out_of[2].startswith(_WEAPONS + ("target",))):
            return True
    return False


_OUT_OF = frozenset(("of", "з", "із", "из"))


# Russia's ministry claiming its strikes hit their targets ("Минобороны: удары по объектам в Киеве и
# Львовской области достигли целей"): the night's attack told by the attacker, though it names cities
_CLAIM = re.compile(r"цел[иь] (были )?(достигнут|поражен)|достиг(ли|ла)? (всех |своих |назначенных )?цел|досягл?и? цілей"
                    r"|ціл[іь] (уражен|досягнут)|\ball (designated |intended )?targets (were )?(hit|struck)", re.IGNORECASE)
_MASSIVE = re.compile(r"\b(massive|large-scale|combined) (russian )?(strike|attack|barrage|missile)|масован|масштабн\w* (атак|удар)"
                      r"|комбінован\w* (атак|удар)|массирован|комбинирован\w* (атак|удар)|" + _CLAIM.pattern,
                      re.IGNORECASE)
_NATIONWIDE = re.compile(r"\bпо всій країні|\bпо всей (стране|украине)|across ukraine|nationwide|all over ukraine", re.IGNORECASE)
# the other side's night: "66 украинских беспилотников сбиты над регионами России"
_AT_RUSSIA = re.compile(r"(украинск|українськ)\w* (беспилот|безпілот|бпла|дрон|ракет)|ukrainian (drone|uav|missile)"
                        r"|над (территорией|регионами|областями) росс|over russia"
                        r"|russian (energy|oil|power|gas|refiner|defen[cs]e|military|industrial|infrastructure|facilit|sites|port)"
                        r"|российск\w* (энерг|нефт|нпз|объект|предприят|инфраструктур)|російськ\w* (енерг|нафт|нпз|об.єкт|підприєм|інфраструктур)",
                        re.IGNORECASE)
# a country's energy or defence sites, not one city's: "energy facilities across Ukraine", "объектам энергетики Украины"
_INFRA = re.compile(r"\b(energy|power|nuclear|defen[cs]e|industrial|military-industrial|gas|infrastructure) (and (energy|defen[cs]e) )?(sites|facilities|infrastructure|enterprises|targets|substations|grid)"
                    r"|объект\w* (энергетик|впк|оборон|топлив|инфраструктур)|предприяти\w* (впк|оборон)|энергетическ\w* инфраструктур"
                    r"|об.єкт\w* (енергетик|опк|оборон|інфраструктур)|енергетичн\w* (інфраструктур|об)|підприємств\w* (опк|оборон)", re.IGNORECASE)
_UKRAINE = re.compile(r"ukrain|україн|украин", re.IGNORECASE)


def is_nationwide(title: str, cities: frozenset[int], regions: frozenset[str], countries: frozenset[str]) -> bool:
    """An attack told of the whole country, not of a city or a region: a massive strike on Ukraine
    ("ВС РФ нанесли массированный удар по предприятиям ВПК Украины, цели достигнуты"), one on
    its energy or defence sites ("Russia attacks Ukraine energy facilities, kills three"), or one
    said to be nationwide ("Масована атака по всій країні: удари по Тернополю, Харкову…").
    Russia's ministry saying its strikes hit their targets is the night's too, whatever it names.
    "Massive attack on Kyiv" is Kyiv's strike, "Столиця під масованою атакою" names no country,
    a report naming a third country is that country's news ("Польща підняла літаки через
    масовану атаку Росії"), and a strike on Russia's refineries is the other side's night."""
    if _MASSIVE.search(title) and _NATIONWIDE.search(title):
        return True  # said of the whole country, whatever else it names ("…, Польща піднімала авіацію")
    if not countries <= {"UA", "RU"}:
        return False
    if _CLAIM.search(title) and not _AT_RUSSIA.search(title):
        return True  # the attacker's "targets hit", whatever it names: the night's, as the labels have it
    if cities or regions or _AT_RUSSIA.search(title) or not ("UA" in countries or _UKRAINE.search(title)):
        return False
    return bool(_MASSIVE.search(title) or _INFRA.search(title))


# Denying, dismissing, rejecting, condemning, protesting, threatening retaliation: how another party
# answers a happening ("Russian embassy dismisses Yantar laser claims as 'fantasies'", "У МЗС Росії
# пригрозили відповіддю на 20-й пакет санкцій", "МИД назвал задержание танкера актом пиратства");
# and the Russian foreign ministry's spokeswoman, whose briefings answer what others do ("Захарова:
# новый пакет санкций ЕС ударит по самим европейцам"). The Kremlin's spokesman also reads out
# Putin's own meetings, so his name is a response only where Russia is no party (`moscow_aside`).
_RESPONSE = re.compile(
    r"\b(den(y|ies|ied)|dismiss(es|ed)?|reject(s|ed)?|condemn(s|ed)?|retaliat\w*|protests?|protested|react(s|ed|ion)?"
    r"|vows? (a )?(response|retaliation)|piracy|hysteria|fantasies|russophob\w*|backfire)\b"
    r"|відкину|відкида|засуджу|погрожу|відповід\w* на|піратств|заперечи|заперечу|істері|відреагува|реакці"
    r"|отверг|осужда|пригрози|грозит|ответ\w* на|ответ последует|без ответа|без відповіді|пиратств|протест|опроверг|истери"
    r"|русофоб|отреагирова|реакци|захаров|zakharova",
    re.IGNORECASE)
# Ukrainian and Russian condemn and sentence with one verb in the past ("Доха засудила удар", "суд
# заочно засудив сержанта"): a court's sentence is the trial itself, not another party's answer.
# The present ("засуджує", "осуждает") is only ever a condemnation.
_CONDEMN = re.compile(r"засуди|осуди", re.IGNORECASE)
# A neighbour scrambling its jets over an attack next door, said first ("Poland scrambles jets as
# Russia strikes western Ukraine", "Румунія піднімала F-16 через атаку дронів на Ізмаїльщину"): the
# neighbour's answer, not the strike (the labels: Izmail's port and Romania's jets are two events).
# Said after a colon or comma, it is in passing ("Масована атака…: удари по…, Польща піднімала авіацію").
_SCRAMBLE = re.compile(r"^[^:;,—–]*?\b(scrambl\w*|підн[яі]\w*\s+(в небо |в повітря )?(літак|авіаці|винищувач|f-?16)"
                       r"|подн[яи]\w*\s+(в воздух |в небо )?(истребит|самол|авиаци|f-?16))", re.IGNORECASE)
_COURT = re.compile(r"\bсуд(а|у|ом|ів|ов|и|ы)?\b|заочно|вирок|приговор|трибунал|засуджен|осужд[её]н|довічн|пожизненн"
                    r"|\d+ (рок\w*|рік|лет|года?)\b", re.IGNORECASE)


# Moscow speaking: the Kremlin ("Песков: Москва не получала никаких документов по итогам встречи
# в Женеве", "Kremlin says it has seen no text from Ukraine-US talks") and its diplomats ("Russian
# embassy in London says UK tanker sanctions will backfire", "МИД России: 20-й пакет санкций ЕС
# нелегитимен"); and what makes Russia a party to a happening: its president, its officials or
# its delegation there
MOSCOW = "RU:48"  # the region of the city of Moscow
_MOSCOW_VOICE = re.compile(
    r"(^|[:;—–]\s*)(the )?kremlin\b|kremlin('s)? (spokes\w*|aide|official)|peskov|песков|^кремль|кремль:"
    r"|(в|у) кремл(е|і)\b"  # the Kremlin speaking, not spoken to ("warning to the Kremlin")
    r"|russian foreign ministry|russia's foreign ministry|мид (россии|рф)|мзс (росії|рф)"
    # an embassy that speaks opens the title ("Посольство России в Лондоне: …", "В посольстве РФ
    # заявили …"), not one whose staffer is expelled ("Молдова объявила сотрудника посольства России …")
    r"|(^|[:;—–]\s*)((the )?russian|russia's) embassy|(^|[:;—–]\s*)((в|у) )?посольств\w* (россии|рф|росії)"
    r"|(^|[:;—–]\s*)((в|у) )?(российск|російськ)\w* посольств", re.IGNORECASE)
_OWN_MFA = re.compile(r"\bМИД\b(?! [А-ЯЁ])")  # "В МИД пообещали …": Russia's own, in Russian media (not "МИД Эстонии")
_RUSSIAN_PARTY = re.compile(
    r"putin|путін|путин|kremlin (chief|leader)|глав\w* кремля|russian (president|leader|delegation|foreign minister\b)"
    r"|президент\w* (росс|рф)|lavrov|лавров|ushakov|ушаков|dmitriev|дмитриев|делегаці\w* росії|делегаци\w* росси"
    r"|російськ\w* делегаці|российск\w* делегаци", re.IGNORECASE)


@lru_cache(maxsize=8192)
def moscow_aside(title: str) -> bool:
    """Moscow (the Kremlin, the foreign ministry, an embassy) speaking of a happening Russia is no
    party to: no Putin, no Russian official or delegation named. The Kremlin's comment on
    Ukraine-US talks in Geneva and the embassy's word on Britain's sanctions are events of their
    own, whatever their verb; the Kremlin's read-out of Putin's talks with an envoy is that meeting."""
    return bool(_MOSCOW_VOICE.search(title) or _OWN_MFA.search(title)) and not _RUSSIAN_PARTY.search(title)


def russian_side(sig: "Signature") -> bool:
    """Russia is a party to what the report tells: a Russian official or delegation named, or a
    place in Russia (the Kremlin speaking of a strike on Russia is the affected side's). Not
    Moscow: the capital names the government as often as the place ("Москва не получала
    документов", "text will go to Moscow")."""
    return bool(_RUSSIAN_PARTY.search(sig.text)) or any(r.startswith("RU:") and r != MOSCOW for r in sig.regions)


def apart_as_responses(a: "Signature", b: "Signature") -> bool:
    """One is another party's response and the other is not (`is_response`), so they are two
    happenings; but Moscow's aside (`moscow_aside`) joins a report in which Russia is a party."""
    if a.response == b.response:
        return False
    answer, other = (a, b) if a.response else (b, a)
    return not (answer.aside and not is_response(answer.text) and russian_side(other))


@lru_cache(maxsize=8192)
def is_response(title: str) -> bool:
    """A party's answer to a happening: a denial, a dismissal, a condemnation, a protest, a threat
    of retaliation. Another party's response is a happening of its own (tests/data/README.md,
    "A response by another party is its own event"): Russia's embassy dismissing the Yantar claims
    is not the claims, and Moscow threatening a response to the EU's sanctions is not the package.
    So a response and a report that is none are never one event, by words and places or by
    meaning (a shared city, name or topic is what ties an answer to what it answers); two
    responses may be."""
    return (bool(_RESPONSE.search(title)) or bool(_CONDEMN.search(title) and not _COURT.search(title))
            or bool(_SCRAMBLE.search(title)))


def one_night(a: Signature, b: Signature) -> bool:
    """Two reports of the night's attack on Ukraine (each a tally or nationwide, `Signature.tally`)
    within NIGHT of each other: Ukraine's air force counts what was launched, Russia's ministry
    says its massive strike hit its targets, and each is told in three languages, worded apart.
    Not the other side's night (Ukrainian drones over Russia), not another country's war (two
    reports naming countries must share one besides Russia, the attacker; one naming none is a
    Ukrainian channel's)."""
    if not (a.tally and b.tally) or abs(a.at - b.at) > NIGHT:
        return False
    if any(_AT_RUSSIA.search(s.text) or any(r.startswith("RU:") for r in s.regions) for s in (a, b)):
        return False
    ca, cb = a.countries - {"RU"}, b.countries - {"RU"}
    if ca and cb:
        return bool(ca & cb)
    return (ca or cb) <= {"UA"}


_NOT_SWAP = ("=talks", "=meeting")  # talks about swaps are talks


def _swap(sig: Signature) -> bool:
    """The title tells a swap, in any language (the lexicon's concepts): an exchange, a return of
    bodies, or prisoners or soldiers returned or freed; not talks about one."""
    has = sig.stem_map
    if any(c in has for c in _NOT_SWAP):
        return False
    return ("=exchange" in has or "=bodies" in has
            or (("=return" in has or "=release" in has) and ("=prisoner" in has or "=troops" in has)))


def one_swap(a: Signature, b: Signature) -> bool:
    """Two reports of a swap of prisoners or bodies within SWAP of each other: one swap. Sides
    swap at most every few days, and each side tells its own half: "С подконтрольной киевскому
    режиму территории возвращены 150 российских военнослужащих", "Серед звільнених — захисники
    Маріуполя", "UAE mediates 210-for-210 swap", sharing no place or name. Both about bodies or
    neither (a return of bodies is not a swap of the living), and a count each names is one
    they share or twice it (202 each way, 404 freed); talks where swaps were discussed are talks."""
    if abs(a.at - b.at) > SWAP:
        return False
    if not (_swap(a) and _swap(b)):
        return False
    if ("=bodies" in a.stem_map) != ("=bodies" in b.stem_map):
        return False
    if not (a.numbers and b.numbers) or a.numbers & b.numbers:
        return True
    # "202 на 202" is 404 freed: a swap's count each way and its total are one swap's
    each = {int(n[1:]) for n in a.numbers}, {int(n[1:]) for n in b.numbers}
    return any(2 * x in each[1] for x in each[0]) or any(2 * y in each[0] for y in each[1])


_LINKS = frozenset("after before in on at as from by of to for with після до від через в у на по при после от для с".split())


def places_conflict(a: Signature, b: Signature) -> bool:
    """Both name cities and share none (unless one's city is in a region the other names), or
    both name regions as regions and share none, or one names only regions and the other only
    cities outside them (the Poltava region's gas field and Kharkiv's industrial district).
    Countries never conflict: a report names the attacker's and the victim's, and the tagger's
    rare misreadings are mostly countries away. A
    venue report's capital does not conflict either (`Signature.fixed_cities`)."""
    for x, y in ((a, b), (b, a)):  # a regional source's report naming no place is about its region
        if x.home and (y.regions or y.home) and x.home.isdisjoint(y.regions | y.home):
            return True
    ac, bc = a.fixed_cities, b.fixed_cities
    if ac and bc and ac.isdisjoint(bc):
        return not (a.named_regions & b.regions or b.named_regions & a.regions)
    for x, y in ((a, b), (b, a)):  # a region and a city elsewhere: "Полтавщина: …" and "… Харкова"
        if (x.named_regions and not x.cities and y.fixed_cities and not y.named_regions and y.regions
                and x.named_regions.isdisjoint(y.regions)):
            return True
    return bool(a.named_regions and b.named_regions and a.named_regions.isdisjoint(b.named_regions))


def shared_place(a: Signature, b: Signature) -> bool:
    """A city both name, or a region both name when neither names a city."""
    if a.cities & b.cities:
        return True
    return not a.cities and not b.cities and bool(a.named_regions & b.named_regions)


def in_region(a: Signature, b: Signature) -> bool:
    """`a` names a region and no city, `b` a city in that region: "drones hit villages in Odesa
    region" beside "... in Bilhorod-Dnistrovskyi". Near, not one place: only their words can say
    (their keys are mostly that region, alike for any two reports of it)."""
    return not a.cities and bool(b.cities) and bool((a.named_regions | a.home) & b.regions)


def _cosine(a: tuple[tuple[str, float], ...], wb: dict[str, float], na: float, nb: float) -> float:
    """Weighted cosine of a token list and a token -> weight dict, with their squared norms."""
    if not a or not wb:
        return 0.0
    num = 0.0
    for token, w in a:
        other = wb.get(token)
        if other is not None:
            num += w * other
    return num / math.sqrt(na * nb) if num else 0.0


def _unplaced(a: tuple[tuple[str, float], ...], b: tuple[tuple[str, float], ...]) -> tuple:
    """Two key lists without their places, with their norms, for `_cosine`."""
    a2 = tuple(k for k in a if not k[0].startswith("@"))
    b2 = tuple(k for k in b if not k[0].startswith("@"))
    return a2, dict(b2), _norm(a2), _norm(b2)


def word_similarity(a: Signature, b: Signature) -> float:
    """Weighted cosine of the two reports' stems (same-language wording)."""
    return _cosine(a.stems, b.stem_map, a.norm, b.norm)


def key_similarity(a: Signature, b: Signature) -> float:
    """Weighted cosine of the two reports' keys: places, names and numbers, alike in any language."""
    return _cosine(a.keys, b.key_map, a.key_norm, b.key_norm)


def in_time(report: Signature, first: float, last: float) -> bool:
    """Within GAP of the event's reports and SPAN of its first (reports may come out of order)."""
    return first - GAP <= report.at <= min(last + GAP, first + SPAN)


def same_event(report: Signature, member: Signature, wording: bool = True) -> tuple[bool, float]:
    """Whether a report is about the same happening as one report of an event (time and
    category checked by `compatible`); and the score, to pick the closest event. `wording`:
    whether one wording retold (`_one_wording`) is enough (alerting/event_book.py says when not)."""
    if places_conflict(report, member):
        return False, 0.0
    if report.follow_up:
        # "Death toll in Ternopil rises to 26": an event of a category its rule `follows`, only at the very place
        # (a city both name, or a region both name when neither names a city, or a region the
        # event's city lies in: "Ternopil region death toll") and alike enough
        at_place = (shared_place(report, member) or (not report.cities and bool(report.named_regions & member.regions))
                    or bool(report.home & member.regions))  # a regional source's report naming no place: its region
        if not at_place and not report.regions and not report.countries:
            # one that names no place at all ("Рятувальники завершили роботи: 5 загиблих, 17
            # постраждалих"): a count it shares with the event's report (17), not a round one
            at_place = any(a.startswith("#") for a in shared_anchors(report, member))
        if member.follow_up or not at_place or (report.follows and report.follows.isdisjoint(member.categories)):
            return False, 0.0
        if member.tally and not report.tally:
            # a toll at a place is that place's strike, not the night's tally that names it among others
            # ("Dnipropetrovsk region toll rises to eight" beside "Russia launched 112 drones…")
            return False, 0.0
        words = word_similarity(report, member)
        sim = max(words, key_similarity(report, member) * SAME_WORDS / SAME_KEYS)
        # ranked by words: at a place both name, their keys are mostly that place, and the event
        # whose reports name least besides it would win ("траур по семерым погибшим" in Kyiv went
        # to a spy's arrest in Kyiv, not to the strike that killed them)
        return sim >= SAME_PLACE, 1.0 + words
    if member.follow_up or report.categories.isdisjoint(member.categories):
        return False, 0.0
    if apart_as_responses(report, member):  # another party's answer is its own happening (`is_response`)
        return False, 0.0
    if one_night(report, member) or one_swap(report, member):
        return True, word_similarity(report, member)
    if report.tally != member.tally:  # the night's tally and one city's strike: only their words can say
        words = word_similarity(report, member)
        shared = {a for a in shared_anchors(report, member) if not a.startswith("@")}
        # ranked below any event of its own kind it also fits: "Overnight barrage on Kharkiv, Odesa:
        # air defences down 121 of 152 targets" is the night's count, beside Kharkiv's strike
        return bool(shared) and words >= TALLY_WORDS, words - 1.0
    words = word_similarity(report, member)
    if len(report.numbers & member.numbers) >= 2 and words >= SAME_WORDS:
        # two numbers in common, round ones too ("20th sanctions package … 40 tankers", "20-й пакет
        # санкцій … ще 40 танкерів"): one story in two languages, if their words agree
        return True, words
    if report.venue and member.venue:  # two talks in Kyiv need more than Kyiv: a name or number, and words
        keys = _cosine(*_unplaced(report.keys, member.keys))
        sim = max(words, keys * SAME_WORDS / SAME_KEYS)
        named = {a for a in shared_anchors(report, member) if not a.startswith("@")}
        return (bool(named) and sim >= SAME_WORDS) or (wording and _one_wording(report, member, sim)), sim
    sim = max(words, key_similarity(report, member) * SAME_WORDS / SAME_KEYS)
    if shared_place(report, member):
        return sim >= SAME_PLACE, 1.0 + sim
    if (in_region(report, member) or in_region(member, report)) and words >= REGION_WORDS:
        return True, sim  # else they may still share an anchor, below
    shared = shared_anchors(report, member)
    if any(a.startswith("~") and (a in report.latin) != (a in member.latin) for a in shared):
        # a name told in both alphabets ("tanker Arcadia Wind", «Аркадія Вінд»): a Latin one is a
        # key only if rare in English headlines, so the two name one rare thing; their words,
        # in two languages, share little else (like two counts in common, below)
        return sim >= SAME_PLACE, sim
    if _one_country(report, member) and not shared:
        # a country and nothing more specific ("Russia strikes Ukraine energy facilities, four
        # killed"): only the words can say it is one happening (their keys are the country alone)
        # each naming something specific the other does not ("kills 13" and "on a coastal road"):
        # more alike than that (COUNTRY_WORDS), two strikes in Lebanon the same day are not one
        need = COUNTRY_WORDS if report.anchors and member.anchors else SAME_WORDS
        return words >= need or (wording and _one_wording(report, member, words)), sim
    if not shared:
        # only common words in common ("Trump says", "missile strike"), unless one wording
        return (wording and _one_wording(report, member, sim)), sim
    counts = sum(1 for a in shared if a.startswith("#"))
    if counts >= 2 or (counts and report.tally and member.tally):
        # two counts in common ("476 drones and 48 missiles", "знешкоджено 442 дрони і 41 ракету"),
        # or one between two tallies ("585 shot down"): one tally told twice, however worded
        return sim >= SAME_PLACE, sim
    return sim >= SAME_WORDS, sim


def meaning_comparable(report: Signature, member: Signature) -> bool:
    """Whether two reports may be told one happening by their meaning (alerting/meaning.py): in
    two languages, a category in common, places not in conflict, neither a follow-up,
    both or neither the night's tally, both or neither a response (`is_response`)."""
    return (bool(report.text and member.text) and across(report.language, member.language)
            and not member.follow_up and not report.follow_up and report.tally == member.tally
            and not apart_as_responses(report, member)
            and not report.categories.isdisjoint(member.categories) and not places_conflict(report, member))


def _one_country(a: Signature, b: Signature) -> bool:
    """Both name a country they share, no city and no region, and share one of their TOP
    heaviest words (so that an index of country and word finds them: a country's own list
    would hold most of its news)."""
    return (not a.cities and not b.cities and not a.named_regions and not b.named_regions
            and bool(a.countries & b.countries) and not a.top.isdisjoint(b.top))


def _one_wording(report: Signature, member: Signature, sim: float) -> bool:
    """Two reports worded alike (NEAR_WORDS), sharing one of their HEAVY heaviest words, and
    not each with a name, rare word or number of its own: one story retold, whatever places or
    names they lack ("13 killed in Israeli strike on Palestinian refugee camp in Lebanon" and
    "Israeli airstrike on a Palestinian refugee camp in Lebanon kills 13 people")."""
    if report.anchors and member.anchors:
        return False  # each names something the other does not: "strike hits Zuabfo" and "… Zuabgo"
    return sim >= NEAR_WORDS and not report.heavy.isdisjoint(member.heavy)


def anchors(sig: Signature) -> frozenset[str]:
    """What makes a report specific: its rare words, names in any alphabet (by sound, and Latin
    ones also whole: "!driscoll"), counts of two digits or more that are not round (476
    drones, 48 missiles, a 28-point plan, 150 prisoners; not 10, 40, 500, 1000, a year, a day
    next to its month or a time of day), and its cities. Two reports with no
    shared place are one event only if they share one of these."""
    return sig.anchors


def _anchors(stems: tuple[tuple[str, float], ...], keys: tuple[tuple[str, float], ...]) -> frozenset[str]:
    out = {t for t, _ in stems if t.isascii() and not t.startswith("#") and t not in _FUNCTION
           and (concept_rarity(t) if t.startswith("=") else order_weight(t)) >= RARE_STEM}
    out.update(t for t, _ in keys if not t.startswith(("@n", "@r", "#")))
    out.update(t for t, _ in keys if t.startswith("#") and int(t[1:]) >= 10 and not _YEAR.match(t) and not _round(int(t[1:])))
    return frozenset(out)


def _round(n: int) -> bool:
    """A count too common to say which event: hundreds and thousands, and tens under a hundred
    (10, 40, 500, 1000; not 150 prisoners each way, nor 476 drones)."""
    return n % 100 == 0 or (n < 100 and n % 10 == 0)


@lru_cache(maxsize=1024)
def concept_rarity(token: str) -> float:
    """How rare a concept is as a whole: the weight of its commonest English word. A concept is
    an anchor only if every way English says it is rare: "=injure" (injured, wounded, hurt) is
    in a tenth of strike news, though "injure" alone is rare."""
    starts, whole, _, _ = _lexicon()
    table = _stem_weights()
    english = [b for b, c in {**starts, **whole}.items() if c == token and b.isascii()]
    if not english:
        return order_weight(token)
    return min(min(order_weight(token), table.get(stem(b), english_weight("\x00unseen"))) for b in english)


def shared_anchors(a: Signature, b: Signature) -> frozenset[str]:
    """The anchors two reports share. A name's sound key is what carries it from one alphabet to
    the other (Driscoll, Дрісколл); between two reports in Latin letters the word's own stem does
    that, and the sound keys alone, five sounds long, would take "interdiction" and "intermediary"
    for one name."""
    shared = a.anchors & b.anchors
    if shared and a.latin and b.latin:
        shared = shared - (a.latin & b.latin)
    return shared


@lru_cache(maxsize=1)
def _stem_weights() -> dict[str, float]:
    """English weights by five-letter stem: the IDF of the rarest word stem (alerting/word_weights.py's
    six-letter ones) it begins, so a stem's weight depends on the stem alone."""
    table, _ = idf_table()
    out: dict[str, float] = {}
    for token, w in table.items():
        key = stem(token) if len(token) <= STEM else token[:STEM]  # "line" is "lin", as `stem` cuts it
        if w < out.get(key, 1e9):
            out[key] = w
    return out


def order_weight(token: str) -> float:
    """A weight that depends on the token alone: the one order in which prefixes are cut."""
    if token.startswith("@"):  # places: cities first, countries (held by many events) last
        return {"@c": 20.0, "@r": 19.0}.get(token[:2], 0.5)
    if token.startswith("#"):
        return NUMBER_WEIGHT
    if token.startswith("="):
        return _lexicon()[2].get(token, CYRILLIC_WEIGHT)
    if token.isascii():
        table = _stem_weights()
        return table.get(token, english_weight("\x00unseen"))
    return CYRILLIC_WEIGHT


def index_keys(sig: Signature) -> set[str]:
    """Where an event holding this report is filed: its cities and named regions, its anchors
    (a name's sound key spelt only in Latin letters under "l:", found only from Cyrillic ones),
    its HEAVY (three) heaviest words, each two of its numbers, and, when it names no city or region,
    its countries each with one of its TOP heaviest words. Every event a report can join shares one of these with it (see
    `lookup_keys`), and each is rare by design, so each key holds few events.

    Heavy words serve `_one_wording` only, which never joins two reports that each have an
    anchor: a report with anchors files them under "wa:", one without under "w:", and a report
    with anchors looks up only "w:". A common word ("target", "overnight") among a flood of
    reports that each name their own place then lists none of them for the next."""
    keys = {f"c:{c}" for c in sig.cities} | {f"r:{r}" for r in sig.named_regions | sig.home}
    if sig.cities:  # found by a region-only report of that region (`in_region`)
        keys.update(f"rc:{r}" for r in sig.regions)
    keys.update(f"l:{t}" if t in sig.latin else f"a:{t}" for t in anchors(sig))
    heavy = "wa:" if sig.anchors else "w:"
    keys.update(heavy + t for t in sig.heavy)
    if not sig.cities and not sig.named_regions:  # a country's list is long: filed with a word of its own
        keys.update(f"n:{c}:{t}" for c in sig.countries for t in sig.top)
    if sig.tally:  # the night's attack: each night's few such reports find each other (`one_night`)
        keys.add("t:night")
    if _swap(sig):  # and a swap's (`one_swap`): a few days apart, few are open at once
        keys.add("s:swap")
    numbers = sorted(sig.numbers)  # two numbers in common join (`same_event`), round ones too
    keys.update(f"nn:{a}{b}" for i, a in enumerate(numbers) for b in numbers[i + 1:])
    return keys


def lookup_keys(sig: Signature) -> set[str]:
    """The keys to look a report up by: its own, and a city's region (a region-only report of
    the same event was filed under its region)."""
    keys = index_keys(sig)
    keys.update(f"r:{r}" for r in sig.regions)
    if not sig.cities:
        keys.update(f"rc:{r}" for r in sig.named_regions | sig.home)
    if sig.anchors:  # it meets only reports without anchors through a heavy word
        keys.difference_update(f"wa:{t}" for t in sig.heavy)
    else:  # it meets any
        keys.update(f"wa:{t}" for t in sig.heavy)
    keys.update(f"w:{t}" for t in sig.heavy)
    for t in anchors(sig):  # a sound key meets the other alphabet's: Latin-only ones are filed under "l:"
        if t.startswith("~"):
            keys.discard(f"l:{t}")
            keys.add(f"a:{t}")
            if t not in sig.latin:
                keys.add(f"l:{t}")
    return keys


def pair_keys(sig: Signature) -> set[str]:
    """Keys that two reports alike (`same_event`) always share, whichever of the two was filed
    first: its lookup keys, with Latin-only sound keys under the prefix of the others (to compare
    two filed reports with each other, as merging does)."""
    return {"a:" + k[2:] if k.startswith("l:") else k for k in lookup_keys(sig)}
