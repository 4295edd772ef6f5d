"""The compiled matcher: every term of every rule in one Aho-Corasick automaton.

A headline is scanned once per field whatever the number of rules; the boolean conditions of
each rule are then evaluated over the set of terms found, and only for rules one of whose terms
was found. Pure-Python fallback (a word trie) when pyahocorasick cannot be installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Union

from rules.text import joined, words

try:  # the C automaton; the fallback gives the same answers, slower
    import ahocorasick  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - exercised by forcing the fallback in tests
    ahocorasick = None

FIELDS = ("title", "summary")


@dataclass(frozen=True)
class Term:
    """A term as written by the operator, and what it compiles to."""

    text: str
    tokens: tuple[str, ...]
    stems: tuple[bool, ...]  # word ends in *: any word starting with it matches

    @property
    def anchor(self) -> int:
        """Index of the last word the automaton matches; words after it are verified one by one."""
        return next((i for i, stem in enumerate(self.stems) if stem), len(self.tokens) - 1)

    @property
    def pattern(self) -> str:
        k = self.anchor
        return " " + " ".join(self.tokens[: k + 1]) + ("" if self.stems[k] else " ")

    def rest_matches(self, tokens: list[str], start: int) -> bool:
        """Checks the words after the anchor, for a match whose first word is tokens[start]."""
        for i in range(self.anchor + 1, len(self.tokens)):
            j = start + i
            if j >= len(tokens):
                return False
            want, got = self.tokens[i], tokens[j]
            if not (got.startswith(want) if self.stems[i] else got == want):
                return False
        return True


class TermError(ValueError):
    pass


MIN_STEM = 3


def compile_term(text: str) -> Term:
    """Raises TermError for a term that can never match (or would match nearly anything)."""
    tokens: list[str] = []
    stems: list[bool] = []
    for chunk in text.split():
        stem = chunk.endswith("*")
        body = chunk.rstrip("*")
        if "*" in body:
            raise TermError(f"term {text!r}: '*' is only allowed at the end of a word")
        parts = words(body)
        if not parts:
            if body:
                continue  # punctuation between words, e.g. "Zaporizhzhia - plant"
            raise TermError(f"term {text!r}: '*' must follow a word")
        if stem and len(parts[-1]) < MIN_STEM:
            raise TermError(f"term {text!r}: a stem of {len(parts[-1])} character(s) before '*' would match almost any word")
        tokens += parts
        stems += [False] * (len(parts) - 1) + [stem]
    if not tokens:
        raise TermError(f"term {text!r} has no letters or digits, so it can never match")
    return Term(text, tuple(tokens), tuple(stems))


# A condition compiled to ints (term ids) and nested conditions.
Node = Union[int, "Cond"]


@dataclass(frozen=True)
class Cond:
    any: tuple[Node, ...] = ()
    all: tuple[Node, ...] = ()
    none: tuple[Node, ...] = ()

    def __post_init__(self) -> None:
        # Term ids as sets, nested conditions apart: a test is then a few set operations,
        # not a walk over every term of a big `any` list (millions of tests per minute).
        for name in ("any", "all", "none"):
            nodes = getattr(self, name)
            object.__setattr__(self, f"_{name}_ids", frozenset(n for n in nodes if isinstance(n, int)))
            object.__setattr__(self, f"_{name}_conds", tuple(n for n in nodes if not isinstance(n, int)))
        # A condition that cannot hold without one of its terms fails at once when none is found.
        object.__setattr__(self, "_needed", frozenset(self.positive_terms()) if self.needs_a_term() else None)
        # Nested `any` conditions by the terms they need: only those a found term can satisfy are tested.
        index: dict[int, list[Cond]] = {}
        for c in self._any_conds:
            for tid in c._needed or ():
                index.setdefault(tid, []).append(c)
        object.__setattr__(self, "_any_index", index)
        object.__setattr__(self, "_any_free", tuple(c for c in self._any_conds if c._needed is None))

    def test(self, hits: set[int] | frozenset[int]) -> bool:
        if self._needed is not None and self._needed.isdisjoint(hits):
            return False
        if self.any and self._any_ids.isdisjoint(hits) and not self._any_nested(hits):
            return False
        if self.all and not (self._all_ids <= hits and all(c.test(hits) for c in self._all_conds)):
            return False
        if self.none and (not self._none_ids.isdisjoint(hits) or any(c.test(hits) for c in self._none_conds)):
            return False
        return True

    def _any_nested(self, hits: set[int] | frozenset[int]) -> bool:
        if any(c.test(hits) for c in self._any_free):
            return True
        index = self._any_index
        return any(c.test(hits) for tid in hits if tid in index for c in index[tid])

    def positive_terms(self) -> set[int]:
        """Terms whose presence can help a match (not those under `none`)."""
        out: set[int] = set()
        for n in (*self.any, *self.all):
            out |= {n} if isinstance(n, int) else n.positive_terms()
        return out

    def needs_a_term(self) -> bool:
        """False when the condition could hold for a headline containing none of its terms."""
        if not self.any and not self.all:
            return False
        if self.any and all(_needs(n) for n in self.any):
            return True
        return any(_needs(n) for n in self.all)


def _test(node: Node, hits: set[int] | frozenset[int]) -> bool:
    return node in hits if isinstance(node, int) else node.test(hits)


def _needs(node: Node) -> bool:
    return True if isinstance(node, int) else node.needs_a_term()


@dataclass(frozen=True)
class CompiledRule:
    id: str
    severity: str
    fields: tuple[str, ...]
    cond: Cond
    terms: frozenset[int]  # positive terms, reported as "matched"


@dataclass(frozen=True)
class Hit:
    term: str
    field: str
    word: int  # 0-based index of the first word of the match in that field
    words: tuple[str, ...]


class Match(NamedTuple):
    """A category a headline belongs to (a tuple: millions are made per minute)."""

    id: str
    severity: str
    matched: tuple[str, ...]


class TermTable:
    """Interns terms: one id per distinct compiled pattern, shared by every rule using it."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self._ids: dict[tuple[tuple[str, ...], tuple[bool, ...]], int] = {}
        self.texts: dict[int, set[str]] = {}

    def add(self, term: Term) -> int:
        key = (term.tokens, term.stems)
        tid = self._ids.get(key)
        if tid is None:
            tid = self._ids[key] = len(self.terms)
            self.terms.append(term)
            self.texts[tid] = set()
        self.texts[tid].add(term.text)
        return tid


class Matcher:
    """Finds every term in a list of words in one pass."""

    def __init__(self, terms: list[Term], use_c: bool = True) -> None:
        self.terms = terms
        self.native = bool(use_c and ahocorasick is not None and terms)
        if self.native:
            self._auto = ahocorasick.Automaton()
            by_pattern: dict[str, list[int]] = {}
            for tid, t in enumerate(terms):
                by_pattern.setdefault(t.pattern, []).append(tid)
            for pattern, ids in by_pattern.items():
                simple = tuple(i for i in ids if terms[i].anchor == len(terms[i].tokens) - 1)
                verify = tuple(i for i in ids if i not in simple)
                self._auto.add_word(pattern, (len(pattern), simple, verify))
            self._auto.make_automaton()
        else:
            self._trie: dict = {"=": {}, "*": {}, "end": []}
            for tid, t in enumerate(terms):
                node = self._trie
                for tok, stem in zip(t.tokens, t.stems):
                    node = node["*" if stem else "="].setdefault(tok, {"=": {}, "*": {}, "end": []})
                node["end"].append(tid)

    def find(self, tokens: list[str]) -> set[int]:
        """The ids of the terms present: the hot path, so positions are computed only when needed."""
        if not tokens:
            return set()
        if not self.native:
            return {tid for tid, _ in self._find_py(tokens)}
        text = joined(tokens)
        found: set[int] = set()
        for end, (length, simple, verify) in self._auto.iter(text):
            found.update(simple)
            if verify:
                start = text.count(" ", 0, end - length + 1)
                found.update(tid for tid in verify if self.terms[tid].rest_matches(tokens, start))
        return found

    def locate(self, tokens: list[str]) -> list[tuple[int, int]]:
        """(term id, index of its first word) for every occurrence."""
        if not tokens:
            return []
        if not self.native:
            return list(self._find_py(tokens))
        text = joined(tokens)
        out = []
        for end, (length, simple, verify) in self._auto.iter(text):
            if simple or verify:
                start = text.count(" ", 0, end - length + 1)
                out += [(tid, start) for tid in simple]
                out += [(tid, start) for tid in verify if self.terms[tid].rest_matches(tokens, start)]
        return out

    def _find_py(self, tokens: list[str]) -> Iterable[tuple[int, int]]:
        n = len(tokens)
        for i in range(n):
            frontier = [self._trie]
            j = i
            while frontier and j < n:
                tok = tokens[j]
                nxt = []
                for node in frontier:
                    child = node["="].get(tok)
                    if child is not None:
                        nxt.append(child)
                    stems = node["*"]
                    if stems:
                        for k in range(MIN_STEM, len(tok) + 1):
                            child = stems.get(tok[:k])
                            if child is not None:
                                nxt.append(child)
                for node in nxt:
                    for tid in node["end"]:
                        yield tid, i
                frontier = nxt
                j += 1


@dataclass
class Engine:
    """Classifies headlines with a compiled rule set."""

    rules: list[CompiledRule]
    table: TermTable
    use_c: bool = True
    matcher: Matcher = field(init=False)
    _by_term: dict[int, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.matcher = Matcher(self.table.terms, self.use_c)
        self._by_term = {}
        self._texts = {tid: tuple(sorted(texts)) for tid, texts in self.table.texts.items()}
        for ri, rule in enumerate(self.rules):
            for tid in rule.cond.positive_terms():
                self._by_term.setdefault(tid, []).append(ri)
        # A rule that is a flat list of `any` terms matches exactly when one of its terms is found:
        # no condition to evaluate. Most real rules have this shape.
        self._flat = [not r.cond.all and not r.cond.none and all(isinstance(n, int) for n in r.cond.any) for r in self.rules]

    def classify(self, title: str, summary: str = "") -> list[Match]:
        return self.classify_words(words(title), words(summary) if summary else [])

    def classify_words(self, title_words: list[str], summary_words: list[str]) -> list[Match]:
        """`classify` on text already cut by `rules.text.words` (to classify one text twice)."""
        found_title = self.matcher.find(title_words)
        found_summary = self.matcher.find(summary_words) if summary_words else set()
        both = found_title | found_summary if found_summary else found_title
        if not both:
            return []
        by_term = self._by_term
        candidates: set[int] = set()
        for tid in both:
            rules = by_term.get(tid)
            if rules:
                candidates.update(rules)
        out = []
        for ri in sorted(candidates):
            rule = self.rules[ri]
            if len(rule.fields) == 2:
                seen = both
            else:
                seen = found_title if rule.fields[0] == "title" else found_summary
            hit = rule.terms & seen
            if not hit or not (self._flat[ri] or rule.cond.test(seen)):
                continue
            if len(hit) == 1:
                matched = self._texts[next(iter(hit))]
            else:
                matched = tuple(sorted({t for tid in hit for t in self._texts[tid]}))
            out.append(Match(rule.id, rule.severity, matched))
        return out

    def explain(self, title: str, summary: str = "") -> list[Hit]:
        """Every term occurrence in each field, with word positions, for `rules test`."""
        out = []
        for fname, text in (("title", title), ("summary", summary)):
            tokens = words(text)
            for tid, pos in sorted(self.matcher.locate(tokens), key=lambda x: (x[1], x[0])):
                term = self.table.terms[tid]
                span = tokens[pos : pos + len(term.tokens)]
                for written in sorted(self.table.texts[tid]):
                    out.append(Hit(written, fname, pos, tuple(span)))
        return out
