"""Which characters of a headline a rule matched, for the console's test box.

The matcher works on folded words (rules/text.py); this finds the same words in the original
text so the page can mark them without changing what the operator typed.
"""

from __future__ import annotations

import re

from rules.engine import Engine
from rules.text import words

_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−﹘﹣－-", " "))  # same length: offsets stay valid
_WORD = re.compile(r"[^\W_]+(?:['’‘ʼ`´ʹ′＇ꞌ][^\W_]+)*")


def segments(text: str, marked_words: set[int]) -> list[dict]:
    """The text cut into [{"text", "mark"}] pieces; word i is marked when i is in marked_words."""
    spans = [m.span() for m in _WORD.finditer(text.translate(_DASHES))]
    if len(spans) != len(words(text)):  # a folding changed word boundaries: show it unmarked
        return [{"text": text, "mark": False}]
    intervals: list[list[int]] = []
    for i, (start, end) in enumerate(spans):
        if i not in marked_words:
            continue
        if intervals and i - 1 in marked_words:  # a phrase: one mark over its words
            intervals[-1][1] = end
        else:
            intervals.append([start, end])
    out: list[dict] = []
    pos = 0
    for start, end in intervals:
        if start > pos:
            out.append({"text": text[pos:start], "mark": False})
        out.append({"text": text[start:end], "mark": True})
        pos = end
    if pos < len(text):
        out.append({"text": text[pos:], "mark": False})
    return out


def explain(engine: Engine, title: str, summary: str = "") -> dict:
    """Matches, their terms, and the marked pieces of title and summary: the words of the terms
    of the rules that matched, not every term found ("shut" of a rule that did not match)."""
    matches = engine.classify(title, summary)
    matched_terms = {t for m in matches for t in m.matched}
    hits = engine.explain(title, summary)
    marked: dict[str, set[int]] = {"title": set(), "summary": set()}
    for h in hits:
        if h.term in matched_terms:
            marked[h.field].update(range(h.word, h.word + len(h.words)))
    return {
        "matches": [{"id": m.id, "severity": m.severity, "matched": list(m.matched)} for m in matches],
        "title": segments(title, marked["title"]),
        "summary": segments(summary, marked["summary"]) if summary else [],
    }
