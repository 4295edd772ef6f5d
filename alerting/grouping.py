"""Which reports are one event: ten feeds in three languages reporting one strike are one event,
and a drone attack on Odesa and one on Kharkiv in the same hour are two.

A report becomes a `Signature`: its categories, its places (GeoNames ids, the same whatever the
language), its time, and light word stems in one alphabet (Cyrillic is transliterated, so
Yantar / Янтар / Янтарь and Тернополю / Ternopil share a stem), numbers included. A report
joins an open event when

- they share a category, and the report is at most `GAP` after the event's last report and
  `SPAN` after its first;
- their places do not conflict: two reports that both name cities must share one (or one's
  city lies in the other's region), and a region or country of one must hold the other's;
- and either they share a specific place (a city, or a region when that is the most specific
  either names) and their words are at least `SAME_PLACE` alike, or their words alone are
  `SAME_WORDS` alike (the IDF-weighted cosine of alerting/stories.py, against the closest of
  the event's reports).

Thresholds were tuned on the tune half of tests/data/events.jsonl and are reported on its test
half by bench/events.py. Candidates come from an index by place id and by the stems of each
report's prefix (prefix filtering, exact for the word threshold), so the cost of a report does
not follow the number of open events.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from alerting.stories import weight as english_weight
from rules.places.forms import tokens_with_case

GAP = 12 * 3600.0  # a report more than 12 h after an event's last one starts a new event
SPAN = 36 * 3600.0  # and no event takes reports for more than 36 h after its first
SAME_PLACE = 0.12
SAME_WORDS = 0.45
NAME_WEIGHT = 8.0  # a capitalised Cyrillic word not at the start: a name, as rare as an English one
CYRILLIC_WEIGHT = 4.0  # any other Cyrillic word: no Ukrainian or Russian corpus to weigh it by
NUMBER_WEIGHT = 7.0

_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ye", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ю": "yu", "я": "ya", "ы": "y", "э": "e", "ъ": "", "ё": "e", "'": "",
})
_RU_G = str.maketrans({"г": "g"})  # Russian г is g; Ukrainian г is h (Харків / Харьков differ anyway)
_UKRAINIAN_LETTERS = set("іїєґ")
_RUSSIAN_LETTERS = set("ыэъё")
_LATIN_SUFFIXES = ("ings", "ing", "ied", "ies", "ed", "es", "s")
_NUMBER = re.compile(r"\d")
STEM = 5


def transliterate(word: str, language: str) -> str:
    """Latin letters for a lower-case Cyrillic word (a simple national-style table)."""
    if language == "ru":
        word = word.translate(_RU_G)
    return word.translate(_TRANSLIT)


def stem(word: str) -> str:
    """The first five letters after English inflections: one stem for Ternopil, Тернополю, Тернополь."""
    if word.isdigit():
        return "#" + word
    for suffix in _LATIN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:STEM]


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
def word_stems(title: str, language: str) -> tuple[tuple[str, float], ...]:
    """(stem, weight) of a title's words, each stem once, heaviest weight kept."""
    out: dict[str, float] = {}
    for i, (written, folded) in enumerate(tokens_with_case(title)):
        if len(folded) < 2 and not folded.isdigit():
            continue
        if _NUMBER.search(folded):
            digits = "".join(c for c in folded if c.isdigit())
            if len(digits) < 2 or len(digits) > 7:
                continue  # "1", "3": counts of anything; years and ids say little
            token, w = "#" + digits, NUMBER_WEIGHT
        elif folded.isascii():
            token = stem(folded)
            w = english_weight(_english_stem(folded))
        else:
            token = stem(transliterate(folded, language))
            w = NAME_WEIGHT if i > 0 and written[:1].isupper() else CYRILLIC_WEIGHT
        if w > out.get(token, 0.0):
            out[token] = w
    return tuple(sorted(out.items()))


def _english_stem(word: str) -> str:
    from alerting.stories import stem as story_stem

    return story_stem(word)


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

    @property
    def norm(self) -> float:
        return math.fsum(w * w for _, w in self.stems)

    def to_json(self) -> dict:
        return {"at": self.at, "c": sorted(self.categories), "ci": sorted(self.cities), "r": sorted(self.regions),
                "nr": sorted(self.named_regions), "co": sorted(self.countries), "s": [list(x) for x in self.stems]}

    @classmethod
    def from_json(cls, d: dict) -> "Signature":
        return cls(float(d["at"]), frozenset(d["c"]), frozenset(d["ci"]), frozenset(d["r"]), frozenset(d["nr"]),
                   frozenset(d["co"]), tuple((str(t), float(w)) for t, w in d["s"]))


def signature(at: float, categories: list[str], places: list[dict], title: str, language: str) -> Signature:
    cities = frozenset(p["id"] for p in places if p["kind"] == "city")
    named_regions = frozenset(f"{p['country']}:{p['admin1']}" for p in places if p["kind"] == "region" and p.get("admin1"))
    regions = named_regions | {f"{p['country']}:{p['admin1']}" for p in places if p["kind"] == "city" and p.get("admin1")}
    countries = frozenset(p["country"] for p in places)
    return Signature(at, frozenset(categories), cities, frozenset(regions), named_regions, countries,
                     word_stems(title, language))


def places_conflict(a: Signature, b: Signature) -> bool:
    """Both name cities and share none (unless one's city is in a region the other names);
    or both name regions or countries and share none."""
    if a.cities and b.cities and a.cities.isdisjoint(b.cities):
        return not (a.named_regions & b.regions or b.named_regions & a.regions)
    if a.regions and b.regions and a.regions.isdisjoint(b.regions):
        return True
    return bool(a.countries and b.countries and a.countries.isdisjoint(b.countries))


def shared_place(a: Signature, b: Signature) -> bool:
    """A city both name, or a region both name when neither names a city."""
    if a.cities & b.cities:
        return True
    return not a.cities and not b.cities and bool(a.named_regions & b.named_regions)


def word_similarity(a: Signature, b: Signature) -> float:
    """IDF-weighted cosine of the two stem sets (a stem's weight is the heavier of the two)."""
    if not a.stems or not b.stems:
        return 0.0
    wb = dict(b.stems)
    num = 0.0
    for token, w in a.stems:
        other = wb.get(token)
        if other is not None:
            num += w * other
    if not num:
        return 0.0
    return num / math.sqrt(a.norm * b.norm)


def in_time(report: Signature, first: float, last: float) -> bool:
    """Within GAP of the event's reports and SPAN of its first (reports may come out of order)."""
    return first - GAP <= report.at <= min(last + GAP, first + SPAN)


def same_event(report: Signature, member: Signature) -> tuple[bool, float]:
    """Whether a report is about the same happening as one report of an event (time and
    category checked by `compatible`); and the score, to pick the closest event."""
    if places_conflict(report, member) or report.categories.isdisjoint(member.categories):
        return False, 0.0
    sim = word_similarity(report, member)
    if shared_place(report, member):
        return sim >= SAME_PLACE, 1.0 + sim
    return sim >= SAME_WORDS, sim


@lru_cache(maxsize=1)
def _stem_weights() -> dict[str, float]:
    """English weights by five-letter stem: the IDF of the rarest word stem (alerting/stories.py's
    six-letter ones) it begins, so a stem's weight depends on the stem alone."""
    from alerting.stories import _idf

    table, _ = _idf()
    out: dict[str, float] = {}
    for token, w in table.items():
        key = token[:STEM]
        if w < out.get(key, 1e9):
            out[key] = w
    return out


def order_weight(token: str) -> float:
    """A weight that depends on the token alone: the one order in which prefixes are cut."""
    if token.startswith("#"):
        return NUMBER_WEIGHT
    if token.isascii():
        table = _stem_weights()
        return table.get(token, english_weight("\x00unseen"))
    return CYRILLIC_WEIGHT


def word_prefix(sig: Signature) -> list[str]:
    """Prefix filtering: the report's stems in one global order (rarest first) until the rest
    weighs less than SAME_WORDS² of its mass. Two reports at least SAME_WORDS alike share a
    stem of both prefixes: by Cauchy-Schwarz the stems they share carry at least SAME_WORDS²
    of each one's mass, so they cannot all lie beyond either prefix."""
    need = SAME_WORDS * SAME_WORDS * sig.norm * (1 - 1e-9)
    rest = sig.norm
    out = []
    for token, w in sorted(sig.stems, key=lambda tw: (-order_weight(tw[0]), tw[0])):
        if rest < need:
            break
        out.append(token)
        rest -= w * w
    return out


def index_keys(sig: Signature) -> set[str]:
    """Where an event holding this report is filed: its cities and named regions, and its word
    prefix. Every event a report can join shares one of these with it (see `lookup_keys`)."""
    keys = {f"c:{c}" for c in sig.cities} | {f"r:{r}" for r in sig.named_regions}
    keys.update(f"w:{t}" for t in word_prefix(sig))
    return keys


def lookup_keys(sig: Signature) -> set[str]:
    """The keys to look a report up by: its own, and a city's region (a region-only report of
    the same event was filed under its region)."""
    keys = index_keys(sig)
    keys.update(f"r:{r}" for r in sig.regions)
    return keys
