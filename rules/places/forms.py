"""How place names and headline words are compared: case kept for the guard against common
words, Ukrainian and Russian case endings peeled off so that "Тернополю", "Одессе" and
"Кривому Розі" find "Тернопіль", "Одесса" and "Кривий Ріг".

Stems, not a lemmatizer: a name's stem is the name without its last vowel or soft sign, plus the
Ukrainian alternations of the last syllable (Харків -> Харкова, Київ -> Києві, Ріг -> Розі). A
word matches a stem when it is the stem followed by one of the case endings below; measured
against pymorphy3 and simplemma in bench/places.py.
"""

from __future__ import annotations

import re
import unicodedata

from rules.text import _FOLD  # one folding of apostrophes, dashes and ё for rules and places

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")

# Case endings of Ukrainian and Russian nouns and adjectives (singular and plural), longest first.
ENDINGS: frozenset[str] = frozenset(
    "а я у ю і и ы е є ь ї о "
    "ой ою ей ею єю ем ом ім им ий ій ої ая ое ее ые ую юю их ых ах ях ам ям ів ов "
    "ами ями ові еві єві ого его ому ему "
    "ье ья ью ьи ьем"  # Запорожье, Запорожья, Запорожью
    .split()
) | {"", "й"}  # "й": a stem drops it (Китай -> кита-ю), so the nominative must too (в Китай, Краснодарский край)
MAX_ENDING = max(map(len, ENDINGS))
_VOWELS = "аяуюіиыеєьїоэй"
_ADJECTIVE_ENDINGS = frozenset("ий ій ый ой ая яя ое ее ье".split())
MIN_STEM = 2  # "Яр" of "Часів Яр" is a stem of two letters


# The characters whose folding changes the words (apostrophes, ё, stress marks). Dashes fold to
# spaces, which cut words where the dash already does: most headlines need no folding at all.
_CHANGES_WORDS = re.compile("[" + "".join(re.escape(chr(c)) for c, to in _FOLD.items() if to != " ") + "]")


def _fold(text: str) -> str:
    return text.translate(_FOLD) if _CHANGES_WORDS.search(text) else text


def tokens_with_case(text: str) -> list[tuple[str, str]]:
    """(as written, folded lower case) for every word; the folded words are `rules.text.words`'
    (the possessive "'s" dropped, ё folded), so one cut serves the rules and the places."""
    folded = _fold(unicodedata.normalize("NFKC", text))
    written = _WORD.findall(folded)
    casefolded = _fold(folded.casefold())
    lower = _WORD.findall(casefolded)  # as rules.text.words cuts it
    if len(lower) != len(written):  # a letter whose case folding splits a word (İ): word by word
        lower = [w.casefold().translate(_FOLD) for w in written]
    if "'s" not in casefolded:
        return list(zip(written, lower))
    out = []
    for w, f in zip(written, lower):
        if f.endswith("'s") and len(f) > 2:
            w, f = w[:-2], f[:-2]
        out.append((w, f))
    return out


QUOTED_NAME_WORDS = 3  # «Си Аврора», «Балтийский страж», «Дніпро-1»; longer is a quotation


def quoted_words(text: str) -> set[int]:
    """Indices (as `tokens_with_case` cuts the text) of the words of each short «quote»: the names
    of units, clubs, plants, ships and papers in Ukrainian and Russian news («Азов», «Днепр»,
    «Краснодар» обыграл «Ростов»). A quote of more words is somebody's speech, whose places are
    places («Следующий раз — в Москве»)."""
    folded = _fold(unicodedata.normalize("NFKC", text))
    out: set[int] = set()
    group: list[int] | None = None
    at = 0
    matches = list(_WORD.finditer(folded))
    for i in range(len(matches) + 1):  # and the text after the last word, where a quote may close
        stop = matches[i].start() if i < len(matches) else len(folded)
        for ch in folded[at:stop]:
            if ch == "«":
                group = []
            elif ch == "»" and group is not None:
                if len(group) <= QUOTED_NAME_WORDS:
                    out.update(group)
                group = None
        at = stop
        if group is not None and i < len(matches):
            group.append(i)
    return out


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC.search(word))


def stems(word: str) -> set[str]:
    """The stems a Cyrillic name word is inflected from (its last vowel off, alternations on)."""
    if len(word) > 4 and word[-2:] in _ADJECTIVE_ENDINGS:
        base = word[:-2]  # Кривий, Курская, Запорожье
    elif len(word) > 3 and word[-1] in _VOWELS:
        base = word[:-1]  # Одеса, Россия (Росси-и), Тернопіль
    else:
        base = word
    out = {base}
    # Ukrainian: і/о/е alternate in the last closed syllable (Харків/Харкова, Ріг/Рогу, Тернопіль/Тернополя)
    i = max(base.rfind("і"), base.rfind("ї"))
    if i >= 1 and i >= len(base) - 3:
        head, tail = base[:i], base[i + 1 :]
        if base[i] == "і":
            out |= {head + "о" + tail, head + "е" + tail}
        else:  # Київ -> Києва, Миколаїв -> Миколаєва
            out.add(head + "є" + tail)
    # final г/к/х soften before і in the dative and locative (Ріг -> Розі)
    for hard, soft in (("г", "з"), ("к", "ц"), ("х", "с")):
        for s in list(out):
            if s.endswith(hard):
                out.add(s[:-1] + soft)
    return {s for s in out if len(s) >= MIN_STEM}


def peel(word: str) -> list[str]:
    """The stems a folded Cyrillic word of a headline may be: itself and itself less each ending."""
    out = [word]
    for n in range(1, min(MAX_ENDING, len(word) - MIN_STEM) + 1):
        if word[-n:] in ENDINGS:
            out.append(word[:-n])
    if len(word) > 4 and word[-1] == "ю" and word[-2] == word[-3] and word[-2] not in _VOWELS:
        out.append(word[:-2])  # Ukrainian doubles a consonant before -ю: Білорусь -> з Білоруссю
    return out


def capitalised(written: str) -> bool:
    return written[:1].isupper()


def all_caps(written: str) -> bool:
    return len(written) > 1 and written.isupper()
