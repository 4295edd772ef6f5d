"""Casualty figures in a report ("kills 25", "death toll rises to 26", "загинули 26 людей",
"ранены 15 человек"): a changed figure is news an officer wants as an update.

A number counts when a casualty word is within two words after it or three before it (the
nearer wins, another number stops the look), and no other counted thing (drones, missiles,
buildings) is nearer; or when it ends a toll phrase ("death toll in Ternopil region rises to
26", "кількість загиблих у Тернополі зросла до 16", "число погибших в Тернополе достигло 25").
Crude by design: a missed figure costs one update, a wrong one is shown beside its report.
"""

from __future__ import annotations

import re

from rules.text import words

KILLED = ("kill", "dead", "death", "toll", "died", "die", "загиб", "загин", "вбит", "вбив", "убит", "убил", "погиб", "жертв")
INJURED = ("injur", "wound", "hurt", "поранен", "травм", "ранен", "постраждал", "пострадал", "пострадав")
OTHER = ("drone", "missile", "rocket", "shahed", "build", "home", "house", "dron", "дрон", "ракет", "безпілот",
         "беспилот", "будин", "дом", "шахед", "point", "пункт", "km", "км", "day", "year", "днів", "дней", "рок", "лет",
         "percent", "відсот", "процент", "tank", "танк", "billion", "million", "млрд", "млн")
_DIGITS = re.compile(r"^\d{1,5}$")


def _kind(word: str) -> str | None:
    if word.startswith(INJURED):
        return "injured"
    if word.startswith(KILLED):
        return "killed"
    if word.startswith(OTHER):
        return "other"
    return None


# "... rises to 26", "... зросла до 16", "... достигло 25": where a toll phrase ends at its count
_TO = frozenset("to reaches reached hits до досягла досягло сягнула сягнуло достигло достигла достиг".split())


def _counted_to(ws: list[str], kinds: list[str | None], i: int) -> str | None:
    """The kind of a count reached after a longer phrase ("death toll in Ternopil region rises to
    26", "кількість загиблих у Тернополі зросла до 16"): the number follows "to"/"до"/"достигло"
    and a casualty word stands up to seven words before it, with no number or counted thing between."""
    if i == 0 or ws[i - 1] not in _TO:
        return None
    for j in range(i - 2, max(-1, i - 9), -1):
        if _DIGITS.match(ws[j]) or kinds[j] == "other":
            return None
        if kinds[j]:
            return kinds[j]
    return None


def casualties(text: str) -> dict[str, int]:
    """{"killed": n, "injured": n} as far as the text gives them (the largest of each)."""
    ws = words(text)
    kinds = [_kind(w) for w in ws]
    found: dict[str, int] = {}
    for i, w in enumerate(ws):
        if not _DIGITS.match(w):
            continue
        after = before = None
        for j in range(i + 1, min(len(ws), i + 3)):  # "25 killed", "25 people killed"
            if _DIGITS.match(ws[j]):
                break
            if kinds[j]:
                after = (j - i, kinds[j])
                break
        for j in range(i - 1, max(-1, i - 4), -1):  # "kills 25", "toll rises to 26"
            if _DIGITS.match(ws[j]):
                break
            if kinds[j]:
                before = (i - j, kinds[j])
                break
        nearest = [x for x in (after, before) if x]
        kind = min(nearest)[1] if nearest else None
        if kind in (None, "other"):  # "toll rises to 26 after missile strike": the phrase before decides
            kind = _counted_to(ws, kinds, i) or kind
        if kind in ("killed", "injured"):
            found[kind] = max(found.get(kind, 0), int(w))
    return found
