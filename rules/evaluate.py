"""Precision and recall of a rule set on labelled headlines: how operators regression-test a change.

Two formats, mixed freely: an item with its `title` (and optional `summary`), or an item with the
`line` number of a headline in a text file of one headline per line (`lines_from`), so that a set
labelled on real headlines keeps only line numbers and labels. Items may carry `split` (tune or
test, to report on what was never tuned on) and `language`; without it the language is read from
the text (Ukrainian and Russian letters), and figures are given per language too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rules.engine import Engine


@dataclass
class CategoryScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Miss:
    line: int
    title: str
    expected: list[str]
    got: list[str]


@dataclass
class Evaluation:
    scores: dict[str, CategoryScore] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    examples: int = 0
    by_language: dict[str, dict[str, CategoryScore]] = field(default_factory=dict)
    examples_by_language: dict[str, int] = field(default_factory=dict)


class EvalInputError(ValueError):
    pass


UKRAINIAN_ONLY = frozenset("іїєґІЇЄҐ")
RUSSIAN_ONLY = frozenset("ыэъёЫЭЪЁ")


def language_of(text: str) -> str:
    """en, uk or ru from the letters: the three languages the packs cover (a guess for Cyrillic
    text with no letter of one language alone: ru)."""
    letters = set(text)
    if letters & UKRAINIAN_ONLY:
        return "uk"
    if letters & RUSSIAN_ONLY or any("\u0400" <= c <= "\u04ff" for c in letters):
        return "ru"
    return "en"


def read_lines(path: Path) -> list[str]:
    """The headlines of a one-per-line text file; line n is item n - 1."""
    try:
        return path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read the headlines file: {exc.strerror or exc}") from None


def read_labelled(path: Path, lines_from: Path | None = None, split: str | None = None) -> Iterable[tuple[int, dict]]:
    """(line in `path`, item with title, summary, labels, language); items of another `split` skipped."""
    texts = read_lines(lines_from) if lines_from is not None else None
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise EvalInputError(f"{path}:{n}: not JSON: {exc}") from None
            if not isinstance(item, dict) or not isinstance(item.get("labels"), list):
                raise EvalInputError(f"{path}:{n}: expected an object with `title` (string) or `line` (number), and `labels` (list)")
            if "line" in item and "title" not in item:
                number = item["line"]
                if texts is None:
                    raise EvalInputError(f"{path}:{n}: `line` {number} refers to a headlines file: give it with --lines-from")
                if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= len(texts) or not texts[number - 1].strip():
                    raise EvalInputError(f"{path}:{n}: `line` {number!r} is not a headline of {lines_from}")
                item = {**item, "title": texts[number - 1].strip()}
            if not isinstance(item.get("title"), str):
                raise EvalInputError(f"{path}:{n}: expected an object with `title` (string) or `line` (number), and `labels` (list)")
            if split is not None and item.get("split") != split:
                continue
            language = item.get("language")
            if not isinstance(language, str) or not language:
                language = language_of(item["title"] + " " + str(item.get("summary") or ""))
            yield n, {**item, "language": language}


def evaluate(engine: Engine, categories: list[str], examples: Iterable[tuple[int, dict]]) -> Evaluation:
    result = Evaluation(scores={c: CategoryScore() for c in categories})
    for line, item in examples:
        result.examples += 1
        language = item.get("language") or "en"
        result.examples_by_language[language] = result.examples_by_language.get(language, 0) + 1
        per_language = result.by_language.setdefault(language, {c: CategoryScore() for c in categories})
        expected = set(item["labels"])
        got = {m.id for m in engine.classify(item["title"], item.get("summary") or "")}
        for cat in expected | got:
            for scores in (result.scores, per_language):
                score = scores.setdefault(cat, CategoryScore())
                if cat in expected and cat in got:
                    score.tp += 1
                elif cat in got:
                    score.fp += 1
                else:
                    score.fn += 1
        if expected != got:
            result.misses.append(Miss(line, item["title"], sorted(expected), sorted(got)))
    return result


def format_table(ev: Evaluation, scores: dict[str, CategoryScore] | None = None) -> str:
    rows = [f"{'category':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'tp':>5} {'fp':>5} {'fn':>5}"]
    for cat, s in sorted((ev.scores if scores is None else scores).items()):
        # a figure with nothing to count is "-", not a perfect 1.000: no label and no match says
        # nothing of a category, and a category with matches and no label has no recall
        p = f"{s.precision:>9.3f}" if s.tp + s.fp else f"{'-':>9}"
        r = f"{s.recall:>7.3f}" if s.support else f"{'-':>7}"
        f = f"{s.f1:>6.3f}" if s.support else f"{'-':>6}"
        rows.append(f"{cat:<20} {p} {r} {f} {s.support:>8} {s.tp:>5} {s.fp:>5} {s.fn:>5}")
    return "\n".join(rows)
