"""The compiled matcher: every term of every rule in one Aho-Corasick automaton.

A headline is scanned once per field whatever the number of rules; the boolean conditions of
each rule are then evaluated over the set of terms found, and only for rules one of whose terms
was found. Pure-Python fallback (a word trie) when pyahocorasick cannot be installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal, NamedTuple, Union

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
        object.__setattr__(self, "_needed", self._smallest_need())
        # Nested `any` conditions by the terms they need: only those a found term can satisfy are tested.
        index: dict[int, list[Cond]] = {}
        for c in self._any_conds:
            for tid in c._needed or ():
                index.setdefault(tid, []).append(c)
        object.__setattr__(self, "_any_index", index)
        object.__setattr__(self, "_any_free", tuple(c for c in self._any_conds if c._needed is None))

    def _smallest_need(self) -> frozenset[int] | None:
        """The smallest set of terms one of which must be found for the condition to hold: those
        of one `all` item that needs a term, or of the `any` items when each needs one. For
        `weapon + hit verb` that is the verbs alone: a headline naming a weapon and no verb is
        not tested at all, however common the weapon word. None: it could hold with none."""
        def need(node: Node) -> frozenset[int] | None:
            return frozenset((node,)) if isinstance(node, int) else node._needed

        options: list[frozenset[int]] = []
        if self.any and all(_needs(n) for n in self.any):
            options.append(frozenset().union(*(need(n) or () for n in self.any)))
        options += [need(n) for n in self.all if _needs(n)]  # type: ignore[misc]
        return min(options, key=len) if options else None

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

    def terms(self) -> set[int]:
        """Every term of the condition, `none` items included."""
        out: set[int] = set()
        for n in (*self.any, *self.all, *self.none):
            out |= {n} if isinstance(n, int) else n.terms()
        return out

    def failures(self, hits: set[int] | frozenset[int], name: Callable[[int], str], loc: Loc = ()) -> list[Failure]:
        """Why `test(hits)` is False, part by part (vetoes first): empty exactly when it is True.

        Walks every item, so it is for `rules test` only; `test` stays the hot path.
        """
        vetoes: list[Failure] = []
        missing: list[Failure] = []
        for i, n in enumerate(self.none):
            if isinstance(n, int):
                if n in hits:
                    vetoes.append(Failure("vetoed", (*loc, "none", i), term=name(n)))
            elif n.test(hits):
                found = tuple(sorted({name(t) for t in n.positive_terms() & hits}))
                vetoes.append(Failure("vetoed", (*loc, "none", i), found=found))
        for i, n in enumerate(self.all):
            if isinstance(n, int):
                if n not in hits:
                    missing.append(Failure("missing", (*loc, "all", i), term=name(n)))
            elif not n.test(hits):
                missing.append(Failure("missing", (*loc, "all", i), causes=tuple(n.failures(hits, name, (*loc, "all", i)))))
        if self.any and not any(_test(n, hits) for n in self.any):
            # the nested `any` items that found one of their terms came close: say what stopped them
            near = tuple(
                Failure("condition", (*loc, "any", i), causes=tuple(n.failures(hits, name, (*loc, "any", i))))
                for i, n in enumerate(self.any)
                if not isinstance(n, int) and not n.positive_terms().isdisjoint(hits)
            )
            missing.append(Failure("no_any", (*loc, "any"), causes=near))
        return vetoes + missing

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


Loc = tuple[Union[str, int], ...]  # a place inside a rule's `match`, e.g. ("any", 2, "all", 1)


@dataclass(frozen=True)
class Failure:
    """One reason a rule does not match, in the operator's words (what `rules test` prints).

    kind: "vetoed" (a `none` item is present), "missing" (an `all` item is absent), "no_any"
    (no `any` item matches), "condition" (a nested `any` item that found terms but does not
    match), "fields" (the rule's terms are only in fields it does not read).
    """

    kind: Literal["vetoed", "missing", "no_any", "condition", "fields"]
    loc: Loc  # the item inside `match`: ("none", 0), ("any", 2, "all", 1); ("any",) for a whole `any`
    term: str | None = None  # the term as written, when the item is a term
    causes: tuple["Failure", ...] = ()  # why a nested condition does not match
    found: tuple[str, ...] = ()  # terms found inside a vetoing nested condition, or only in unread fields
    fields: tuple[str, ...] = ()  # for "fields": where those terms were found

    @property
    def where(self) -> str:
        """The place as a path: the list for a term ("none", "any[2].all"), else the item ("all[1]")."""
        loc = self.loc[:-1] if self.term is not None else self.loc
        out = ""
        for part in loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def __str__(self) -> str:
        found = ", ".join(_quote(t) for t in self.found)
        if self.kind == "vetoed":
            if self.term is not None:
                return f"vetoed by {self.where}: {_quote(self.term)}"
            return f"vetoed by {self.where}, a condition that matches (found {found})"
        if self.kind == "missing":
            if self.term is not None:
                return f"missing {self.where}: {_quote(self.term)}"
            return f"missing {self.where}, a condition that does not match"
        if self.kind == "no_any":
            return f"no item of {self.where} matches"
        if self.kind == "condition":
            return f"{self.where} does not match"
        return f"found {found} only in {' and '.join(self.fields)}, which the rule does not read"


def _quote(term: str) -> str:
    return json.dumps(term, ensure_ascii=False)


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
        for ri, rule in enumerate(self.rules):  # a rule is tried only when a term it needs is found
            for tid in rule.cond._needed or rule.cond.positive_terms():
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

    def why_not(self, title: str, summary: str = "") -> dict[str, list[Failure]]:
        """For each rule that found some of its terms but does not match: why not (the veto,
        the missing `all` item...). For `rules test`; `classify` never pays for it."""
        tokens = {"title": words(title), "summary": words(summary) if summary else []}
        found = {f: self.matcher.find(t) for f, t in tokens.items()}
        both = found["title"] | found["summary"]
        if not both:
            return {}
        matched = {m.id for m in self.classify_words(tokens["title"], tokens["summary"])}
        out: dict[str, list[Failure]] = {}
        for rule in self.rules:
            if rule.id in matched or rule.cond.terms().isdisjoint(both):
                continue
            seen = set().union(*(found[f] for f in rule.fields))
            reasons = rule.cond.failures(seen, self.term_text)
            unread = [f for f in FIELDS if f not in rule.fields and not rule.terms.isdisjoint(found[f])]
            if unread and rule.terms.isdisjoint(seen):
                terms = tuple(sorted({self.term_text(t) for f in unread for t in rule.terms & found[f]}))
                reasons.insert(0, Failure("fields", (), found=terms, fields=tuple(unread)))
            out[rule.id] = reasons
        return out

    def term_text(self, tid: int) -> str:
        """A term as the operator wrote it (the first spelling, when rules spell it differently)."""
        return self._texts[tid][0]

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
