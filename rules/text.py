"""How headline text and rule terms are cut into words: the same function for both, so they agree."""

from __future__ import annotations

import re
import unicodedata

# Apostrophe look-alikes become "'", dash look-alikes separate words, Russian ё folds to е,
# and stress marks (common in dictionaries, rare in news) disappear.
_FOLD = str.maketrans(
    {
        **dict.fromkeys("’‘ʼ`´ʹ′＇ꞌ", "'"),
        **dict.fromkeys("‐‑‒–—―−﹘﹣－-", " "),
        "ё": "е",
        "\u0301": None,
        "\u0300": None,
        "\u0307": None,  # the dot of a lower-cased Turkish İ: "İstanbul" is "istanbul"
    }
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def words(text: str) -> list[str]:
    """Lower-cased words; an English possessive "'s" is dropped so "Russia's" matches "Russia"."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    out = _WORD.findall(folded)
    return [w[:-2] if w.endswith("'s") and len(w) > 2 else w for w in out]


def joined(tokens: list[str]) -> str:
    """The form the matcher scans: every word wrapped in single spaces, so a match is whole words."""
    return " " + " ".join(tokens) + " "
