"""Grouping near-duplicate headlines into stories: ten feeds reporting one strike are one story.

A headline becomes a set of light stems; two headlines are the same story when the IDF-weighted
cosine of their stem sets reaches a threshold. IDF weights (from ~27,000 real headlines of late
2025, `story_idf.json`) make rare words — places, names — decide, and common ones ("says",
"Russian", "strike") count little, so "missile strike on Kharkiv" and "missile strike on
Ternopil" stay apart while "Missile strike kills dozens in Ternopil" and "Dozens killed as
missiles hit Ternopil" merge. Why not MinHash or rapidfuzz: headlines are ~10 words, so exact
weighted overlap is cheap, and plain string ratios cannot tell a place name from a verb.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from rules.text import words

IDF_FILE = Path(__file__).with_name("story_idf.json")
SAME_STORY = 0.4
RARE = 9.0  # IDF weight of a word seen in at most ~5 of 27,000 headlines: a place, a name, a ship
_LATIN_SUFFIXES = ("ings", "ing", "ied", "ies", "ed", "es", "s")


def stem(word: str) -> str:
    """Crude but language-agnostic: English inflections off, then the first 6 (Latin) or 5 letters."""
    if word.isdigit():
        return word
    if word.isascii():
        for suffix in _LATIN_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        return word[:6]
    return word[:5]


@lru_cache(maxsize=4096)  # one headline is filed under each rule it concerns
def story_tokens(title: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(title) if len(w) > 1 or w.isdigit())


@lru_cache(maxsize=1)
def _idf() -> tuple[dict[str, float], float]:
    data = json.loads(IDF_FILE.read_text(encoding="utf-8"))
    n = data["documents"]
    table = {token: math.log((n + 1) / (df + 1)) + 1.0 for token, df in data["df"].items()}
    return table, math.log(n + 1) + 1.0


def weight(token: str) -> float:
    table, unseen = _idf()
    return table.get(token, unseen)


_SQUARED: dict[str, float] = {}  # token -> weight², filled as tokens are met


def _w2(token: str) -> float:
    value = _SQUARED.get(token)
    if value is None:
        value = _SQUARED[token] = weight(token) ** 2
    return value


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """IDF-weighted cosine of two stem sets, in [0, 1]."""
    if not a or not b:
        return 0.0
    common = a & b
    if not common:
        return 0.0
    squared = _SQUARED
    num = 0.0
    for token in common:
        value = squared.get(token)
        num += value if value is not None else _w2(token)
    return num / math.sqrt(_profile(a)[0] * _profile(b)[0])


@lru_cache(maxsize=65536)
def _profile(tokens: frozenset[str]) -> tuple[float, frozenset[str]]:
    """(squared norm, rare tokens): every headline is compared with every recent story of a rule."""
    return sum(_w2(t) for t in tokens), frozenset(t for t in tokens if weight(t) >= RARE)


@lru_cache(maxsize=65536)
def must_share(tokens: frozenset[str]) -> frozenset[str]:
    """Tokens a story must have one of to be the same story as `tokens` (an exact pre-filter).

    similarity <= sqrt(common mass / own mass), since the other set holds the common tokens; so
    a story sharing only the lightest tokens, whose mass is below SAME_STORY² of the headline's,
    cannot reach SAME_STORY. Those ("the", "of", "says") are left out."""
    limit = SAME_STORY ** 2 * _profile(tokens)[0]
    ordered = sorted(tokens, key=weight)
    low, cut = 0.0, 0
    for token in ordered:
        low += weight(token) ** 2
        if low >= limit:
            break
        cut += 1
    return frozenset(ordered[cut:])


def suffix_masses(tokens: frozenset[str]) -> tuple[tuple[str, float, float], ...]:
    """(token, weight², rest) heaviest first (ties by token), rest = the squared weight of the
    token and of every lighter one: the most overlap two sets can have if this is the first
    token they share. Both sets must keep enough mass from there on to reach SAME_STORY, which
    is what lets the candidate index (alerting/state.py) skip stories that cannot match."""
    ordered = sorted((-_w2(t), t) for t in tokens)
    out: list[tuple[str, float, float]] = []
    rest = 0.0
    for negative, token in reversed(ordered):
        rest -= negative
        out.append((token, -negative, rest))
    out.reverse()
    return tuple(out)


def same_story(a: frozenset[str], b: frozenset[str]) -> bool:
    """Similar enough, and not about different rare things (Kharkiv is not Ternopil)."""
    if a.isdisjoint(b):
        return False  # most pairs: checked first
    norm_a, rare_a = _profile(a)
    norm_b, rare_b = _profile(b)
    if rare_a and rare_b and rare_a.isdisjoint(rare_b):
        return False
    return overlap(a, b) >= SAME_STORY * math.sqrt(norm_a * norm_b)  # similarity(a, b) >= SAME_STORY


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """The squared weights a and b share, summed as `same_story` sums them (so a caller's quick
    rejection on it agrees with same_story to the last bit)."""
    squared = _SQUARED
    num = 0.0
    for token in a & b:
        value = squared.get(token)
        num += value if value is not None else _w2(token)
    return num


def norm(tokens: frozenset[str]) -> float:
    """The squared mass of a token set, as `same_story` uses it."""
    return _profile(tokens)[0]


def build_idf(headlines_file: Path, out: Path = IDF_FILE, min_df: int = 2) -> int:
    """Regenerates the IDF table: `python -m alerting.stories PATH-TO-HEADLINES.txt`."""
    df: dict[str, int] = {}
    n = 0
    for line in headlines_file.read_text(encoding="utf-8").splitlines():
        title = line.rsplit(" - ", 1)[0].strip()
        if not title:
            continue
        n += 1
        for token in story_tokens(title):
            df[token] = df.get(token, 0) + 1
    kept = {t: c for t, c in sorted(df.items()) if c >= min_df}
    out.write_text(json.dumps({"documents": n, "source": "news headlines of 2025H2 (unlabelled)", "df": kept},
                              ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return len(kept)


if __name__ == "__main__":
    import sys

    print(build_idf(Path(sys.argv[1])), "tokens")
