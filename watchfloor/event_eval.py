"""How well reports are grouped into events, against a labelled set (tests/data/events.jsonl):
B-cubed precision, recall and F1, the usual measure for clustering of mentions.

Each report is classified and placed as the classify stage does it, then filed in time order
with the same code the alert stage runs (alerting/event_book.py). Two ways are measured:

- `grouping`: as live, over the reports the rules classify (a report with no category never
  reaches the alert stage); categories must agree for reports to join. Gold events are
  restricted to those reports. This is grouping's own quality.
- `pipeline`: every report counts; one the rules give no category stands alone. This is what
  an officer gets, classification misses included (`unclassified` says how many).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from alerting.engine import find_events, merge_events, new_event
from alerting.meaning import Meanings, meanings as shared_meanings
from alerting.grouping import guess_language, signature
from alerting.state import AlertState
from core.contracts import ClassifiedHeadline, RawHeadline
from processors.classify import classify_headline
from rules.loader import RuleSet
from rules.routing import follow_up_targets, is_at_venue, is_follow_up


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    reports: int
    gold_events: int
    predicted_events: int
    unclassified: int


def bcubed(gold: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering (item -> cluster id) against the gold one."""
    by_gold: dict[str, set[str]] = defaultdict(set)
    by_pred: dict[str, set[str]] = defaultdict(set)
    for item, cluster in gold.items():
        by_gold[cluster].add(item)
    for item, cluster in predicted.items():
        by_pred[cluster].add(item)
    p = r = 0.0
    for item in gold:
        mine, truth = by_pred[predicted[item]], by_gold[gold[item]]
        both = len(mine & truth)
        p += both / len(mine)
        r += both / len(truth)
    n = len(gold) or 1
    p, r = p / n, r / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load_reports(path: Path, split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split in (None, "all", r.get("split"))]


REAL_EVENTS = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_events.jsonl"
REAL_FIRST = datetime(2025, 7, 24, tzinfo=timezone.utc)  # the shared headlines' first day
REAL_DAYS = 160  # and the days they span (to 2025-12-31)
REAL_TUNE_BEFORE = 20500  # an event whose first headline comes before this line is in `tune`


def load_real_reports(headlines: Path, labels: Path = REAL_EVENTS, split: str | None = None) -> list[dict]:
    """The real English headlines labelled with events (tests/data/real_events.jsonl holds line
    numbers and event ids only; the text is read from `headlines`, ../shared/data's file), as
    rows of `load_reports`' shape. The file has no times: a line's time is its place in the file
    spread evenly over the half-year it covers (about 167 lines a day), so times are right to
    within hours. Split by event: `tune` for events that begin before line REAL_TUNE_BEFORE."""
    lines = headlines.read_text(encoding="utf-8").splitlines()
    per_line = (REAL_DAYS * 86400.0) / len(lines)
    rows, first = [], {}
    for text in labels.read_text(encoding="utf-8").splitlines():
        if not text.strip():
            continue
        label = json.loads(text)
        n, event = int(label["line"]), str(label["event"])
        first.setdefault(event, n)
        title, _, source = lines[n - 1].rpartition(" - ")
        published = datetime.fromtimestamp(REAL_FIRST.timestamp() + per_line * n, timezone.utc)
        rows.append({"id": f"L{n}", "event": event, "language": "en", "source": source or "unknown",
                     "title": title or lines[n - 1], "published": published.isoformat(),
                     "split": "tune" if first[event] < REAL_TUNE_BEFORE else "test"})
    return [r for r in rows if split in (None, "all", r["split"])]


def classified(rows: list[dict], ruleset: RuleSet) -> list[ClassifiedHeadline]:
    """The reports as the classify stage emits them, in publication order."""
    out = []
    for row in rows:
        published = datetime.fromisoformat(row["published"]).astimezone(timezone.utc)
        raw = RawHeadline(id=row["id"], feed_id=row["source"][:40], source=row["source"], title=row["title"],
                          summary=row.get("summary") or "", published=published, fetched=published,
                          language=row.get("language"))
        out.append(classify_headline(raw, ruleset, now=published))
    out.sort(key=lambda h: (h.published or h.classified, h.id))
    return out


def group(headlines: list[ClassifiedHeadline], ruleset: RuleSet, polled_at: float | None = None,
          meanings: Meanings | None = shared_meanings()) -> dict[str, str]:
    """Report id -> event id, filing each report in the order given as the alert stage does
    (with the rule set's follow-up and venue categories: a follow-up joins an open event or
    stands alone). `polled_at`: every report arrived then, as in a first poll of all feeds (the
    quick start), so none closes an event by its time; else each arrives when published."""
    state = AlertState()
    book = state.events
    out: dict[str, str] = {}
    for h in headlines:
        cats = [c.id for c in h.categories]
        if not cats:
            out[h.id] = "alone:" + h.id
            continue
        at = (h.published or h.classified).timestamp()
        sig = signature(at, cats, [p.model_dump() for p in h.places], h.title, guess_language(h.title, h.language),
                        follow_up=is_follow_up(ruleset, h), venue=is_at_venue(ruleset, h), follows=follow_up_targets(ruleset, h),
                        source=h.source)
        now = at if polled_at is None else polled_at
        book.expire(now)
        found = find_events(state, sig, meanings)
        if not found and sig.follow_up:
            out[h.id] = "alone:" + h.id
            continue
        event = found[0] if found else None
        for other in book.bridged(sig, found):  # nothing is alerted here: every bridge merges
            merge_events(state, event, other)
            out = {k: event["id"] if v == other["id"] else v for k, v in out.items()}
        if event is None:
            event = new_event(h, now)
            book.add(event)
        book.join(event, sig, now)
        out[h.id] = event["id"]
    return out


def evaluate(rows: list[dict], ruleset: RuleSet, *, pipeline: bool = False, shuffle: int | None = None) -> Scores:
    """B-cubed scores of `grouping` (pipeline=False) or of the whole `pipeline` (see above).
    `shuffle`: a seed; the reports arrive all at once in that random order (a first poll of every
    feed) instead of one by one as published: what polling order does to grouping."""
    headlines = classified(rows, ruleset)
    unclassified = sum(1 for h in headlines if not h.categories)
    if not pipeline:
        headlines = [h for h in headlines if h.categories]
    polled_at = None
    if shuffle is not None:
        random.Random(shuffle).shuffle(headlines)
        polled_at = max(h.classified.timestamp() for h in headlines)
    predicted = group(headlines, ruleset, polled_at)
    gold = {r["id"]: r["event"] for r in rows if r["id"] in predicted}
    p, r, f1 = bcubed(gold, predicted)
    return Scores(p, r, f1, len(gold), len(set(gold.values())), len(set(predicted.values())), unclassified)


def mistakes(rows: list[dict], ruleset: RuleSet) -> tuple[list, list]:
    """(false merges, missed joins) among classified reports, as pairs of rows, for tuning by hand."""
    headlines = [h for h in classified(rows, ruleset) if h.categories]
    predicted = group(headlines, ruleset)
    by_id = {r["id"]: r for r in rows}
    merged, split = [], []
    ids = [h.id for h in headlines]
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            same_gold = by_id[a]["event"] == by_id[b]["event"]
            same_pred = predicted[a] == predicted[b]
            if same_pred and not same_gold:
                merged.append((by_id[a], by_id[b]))
            elif same_gold and not same_pred:
                split.append((by_id[a], by_id[b]))
    return merged, split
