"""Precision and recall of a rule set on labelled headlines: how operators regression-test a change."""

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


class EvalInputError(ValueError):
    pass


def read_labelled(path: Path) -> Iterable[tuple[int, dict]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise EvalInputError(f"{path}:{n}: not JSON: {exc}") from None
            if not isinstance(item, dict) or not isinstance(item.get("title"), str) or not isinstance(item.get("labels"), list):
                raise EvalInputError(f"{path}:{n}: expected an object with `title` (string) and `labels` (list)")
            yield n, item


def evaluate(engine: Engine, categories: list[str], examples: Iterable[tuple[int, dict]]) -> Evaluation:
    result = Evaluation(scores={c: CategoryScore() for c in categories})
    for line, item in examples:
        result.examples += 1
        expected = set(item["labels"])
        got = {m.id for m in engine.classify(item["title"], item.get("summary") or "")}
        for cat in expected | got:
            score = result.scores.setdefault(cat, CategoryScore())
            if cat in expected and cat in got:
                score.tp += 1
            elif cat in got:
                score.fp += 1
            else:
                score.fn += 1
        if expected != got:
            result.misses.append(Miss(line, item["title"], sorted(expected), sorted(got)))
    return result


def format_table(ev: Evaluation) -> str:
    rows = [f"{'category':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'tp':>5} {'fp':>5} {'fn':>5}"]
    for cat, s in sorted(ev.scores.items()):
        rows.append(f"{cat:<20} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8} {s.tp:>5} {s.fp:>5} {s.fn:>5}")
    return "\n".join(rows)
