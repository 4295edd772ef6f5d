"""How much a word says about which event a headline reports: IDF weights from ~27,000 real
headlines of late 2025 (`story_idf.json`), so rare words (places, names, ships) decide and
common ones ("says", "Russian", "strike") count little. Used by alerting/grouping.py.

English words are cut to light stems first (inflections off, the first six letters), the form
the table is keyed by. Regenerate the table with
`python -m alerting.word_weights PATH-TO-HEADLINES.txt`.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

from rules.text import words

IDF_FILE = Path(__file__).with_name("story_idf.json")
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


@lru_cache(maxsize=1)
def idf_table() -> tuple[dict[str, float], float]:
    """(stem -> weight, the weight of a stem never seen)."""
    data = json.loads(IDF_FILE.read_text(encoding="utf-8"))
    n = data["documents"]
    table = {token: math.log((n + 1) / (df + 1)) + 1.0 for token, df in data["df"].items()}
    return table, math.log(n + 1) + 1.0


def weight(token: str) -> float:
    table, unseen = idf_table()
    return table.get(token, unseen)


def build_idf(headlines_file: Path, out: Path = IDF_FILE, min_df: int = 2) -> int:
    """Regenerates the IDF table from a file of "Title - Publisher" lines."""
    df: dict[str, int] = {}
    n = 0
    for line in headlines_file.read_text(encoding="utf-8").splitlines():
        title = line.rsplit(" - ", 1)[0].strip()
        if not title:
            continue
        n += 1
        for token in {stem(w) for w in words(title) if len(w) > 1 or w.isdigit()}:
            df[token] = df.get(token, 0) + 1
    kept = {t: c for t, c in sorted(df.items()) if c >= min_df}
    out.write_text(json.dumps({"documents": n, "source": "news headlines of 2025H2 (unlabelled)", "df": kept},
                              ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return len(kept)


if __name__ == "__main__":
    import sys

    print(build_idf(Path(sys.argv[1])), "tokens")
