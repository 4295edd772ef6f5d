"""Scores the geotagger on labelled headlines: precision and recall of places, per kind and per
language. A found place counts as right when it is the labelled one: same kind and country, and
the label's name is one of the place's names (labels use the news' spelling, "Kryvyi Rih", the
gazetteer GeoNames', "Kryvyy Rih").
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rules.places.gazetteer import Gazetteer, Place, gazetteer
from rules.places.tagger import tag

SPLIT_LINE = 13421  # real English lines: before it tuned on, from it held out (the file is in date order)


@dataclass
class Labelled:
    text: str
    language: str | None
    places: list[dict]
    split: str  # "tune" or "test"
    ref: str  # "line 4918" or the text itself, for reports


@dataclass
class Score:
    tp: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def precision(self, key: str = "all") -> float:
        return self.tp[key] / max(1, self.tp[key] + self.fp[key])

    def recall(self, key: str = "all") -> float:
        return self.tp[key] / max(1, self.tp[key] + self.fn[key])

    def f1(self, key: str = "all") -> float:
        p, r = self.precision(key), self.recall(key)
        return 2 * p * r / (p + r) if p + r else 0.0


def load_english(path: Path, headlines: Path) -> list[Labelled]:
    """`{"line": N, "places": [...]}` rows; the text read from the headlines file (title only)."""
    lines = headlines.read_text(encoding="utf-8").splitlines()
    out = []
    for row in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
        title = lines[row["line"] - 1].rsplit(" - ", 1)[0]
        split = "tune" if row["line"] < SPLIT_LINE else "test"
        out.append(Labelled(title, "en", row["places"], split, f"line {row['line']}"))
    return out


def load(path: Path, headlines: Path | None = None) -> list[Labelled]:
    """Either format: rows with `text` (or `title`) and `places`, or rows with `line` numbers into
    `headlines` (one "Title - Publisher" per line)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if rows and "line" in rows[0]:
        if headlines is None:
            raise ValueError(f"{path} labels lines by number: give the headlines file they number")
        return load_english(path, headlines)
    return [Labelled(r.get("text") or r.get("title", ""), r.get("language"), r.get("places", []), r.get("split", "test"),
                     r.get("text") or r.get("title", "")) for r in rows]


def load_written(path: Path) -> list[Labelled]:
    return [Labelled(r["text"], r.get("language"), r["places"], r.get("split", "test"), r["text"])
            for r in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if r.get("text")]


def _same(found: Place, label: dict, gaz: Gazetteer) -> bool:
    if found.kind != label["kind"] or found.country != label["country"]:
        return False
    if found.name.casefold() == label["name"].casefold():
        return True
    return any(p.id == found.id for p in gaz.place_named(label["name"]))


def score(rows: list[Labelled], gaz: Gazetteer | None = None) -> Score:
    gaz = gaz or gazetteer()
    out = Score()
    for row in rows:
        found = tag(row.text, language=row.language, gaz=gaz)
        missing = list(row.places)
        for place in found:
            hit = next((lab for lab in missing if _same(place, lab, gaz)), None)
            keys = ("all", place.kind, row.language or "?")
            if hit is not None:
                missing.remove(hit)
                for k in keys:
                    out.tp[k] += 1
            else:
                for k in keys:
                    out.fp[k] += 1
                out.errors.append(f"extra   {place.name} ({place.kind}, {place.country}) in {row.ref}: {row.text[:100]}")
        for lab in missing:
            for k in ("all", lab["kind"], row.language or "?"):
                out.fn[k] += 1
            out.errors.append(f"missed  {lab['name']} ({lab['kind']}, {lab['country']}) in {row.ref}: {row.text[:100]}")
    return out
