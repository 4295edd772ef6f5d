"""Event grouping quality: B-cubed precision, recall and F1 on the labelled clustering set
(tests/data/events.jsonl: reports of events in English, Ukrainian and Russian, with hard pairs).
Thresholds were tuned on the `tune` half; the `test` half is the held-out figure.

Two figures per half (watchfloor/event_eval.py): `grouping`, over the reports the shipped rules
classify (what the alert stage sees), and `pipeline`, over every report (a report the rules miss
stands alone). Goal: grouping F1 >= 0.90 with precision >= 0.95 on the test half.
Run: `.venv/bin/python bench/events.py`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.classify import HEADLINES as REAL  # noqa: E402  (real English headlines, ../shared/data)
from rules.loader import load_rules  # noqa: E402
from watchfloor.event_eval import evaluate, load_real_reports, load_reports  # noqa: E402

SET = ROOT / "tests" / "data" / "events.jsonl"
FRESH = ROOT / "tests" / "data" / "events_fresh.jsonl"  # a second author's set, never tuned on for grouping
THIRD = ROOT / "tests" / "data" / "events_third.jsonl"  # a third author's, December 2025; the packs were tuned on it
FOURTH = ROOT / "tests" / "data" / "events_fourth.jsonl"  # a fourth author's, January 2026; one rule looked at it (session 27)
FIFTH = ROOT / "tests" / "data" / "events_fifth.jsonl"  # a fifth author's, February 2026; nothing tuned on it
SIXTH = ROOT / "tests" / "data" / "events_sixth.jsonl"  # a sixth author's, March 2026; a tune set from session 28
SEEDS = 10


def main() -> None:
    ruleset = load_rules(ROOT / "rules" / "packs")
    figures = {}
    started = time.perf_counter()
    for split in ("tune", "test"):
        rows = load_reports(SET, split)
        for pipeline in (False, True):
            s = evaluate(rows, ruleset, pipeline=pipeline)
            name = "pipeline" if pipeline else "grouping"
            figures[f"{split}.{name}"] = {"precision": round(s.precision, 3), "recall": round(s.recall, 3),
                                          "f1": round(s.f1, 3), "reports": s.reports, "events": s.gold_events,
                                          "predicted": s.predicted_events, "unclassified": s.unclassified}
            print(f"{split:4} {name:8}  P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}   "
                  f"{s.reports} reports of {s.gold_events} events -> {s.predicted_events} predicted"
                  + (f"; {s.unclassified} of {len(rows)} reports given no category by the rules" if pipeline else ""))
        # all at once in a random order (a first poll of every feed, as in the quick start): the
        # same reports, arriving out of publication order; grouping should barely notice
        shuffled = [evaluate(rows, ruleset, shuffle=seed) for seed in range(SEEDS)]
        f1s = [s.f1 for s in shuffled]
        mean = {k: round(sum(getattr(s, k) for s in shuffled) / SEEDS, 3) for k in ("precision", "recall", "f1")}
        figures[f"{split}.grouping_shuffled"] = {**mean, "f1_min": round(min(f1s), 3), "seeds": SEEDS}
        print(f"{split:4} shuffled  P {mean['precision']:.3f}  R {mean['recall']:.3f}  F1 {mean['f1']:.3f}   "
              f"mean of {SEEDS} arrival orders, all polled at once; worst F1 {min(f1s):.3f}")
    for key, path, who in (("fresh", FRESH, "second author, held out"),
                           ("third", THIRD, "third author; packs and grouping tuned on it"),
                           ("fourth", FOURTH, "fourth author, held out to session 26"),
                           ("fifth", FIFTH, "fifth author, held out"),
                           ("sixth", SIXTH, "sixth author, tuned on from session 28")):
        rows = load_reports(path)
        for pipeline in (False, True):
            s = evaluate(rows, ruleset, pipeline=pipeline)
            name = "pipeline" if pipeline else "grouping"
            figures[f"{key}.{name}"] = {"precision": round(s.precision, 3), "recall": round(s.recall, 3), "f1": round(s.f1, 3),
                                        "reports": s.reports, "events": s.gold_events, "predicted": s.predicted_events,
                                        "unclassified": s.unclassified}
            print(f"{key} {name:8}  P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}   {s.reports} reports of "
                  f"{s.gold_events} events -> {s.predicted_events} predicted ({who})"
                  + (f"; {s.unclassified} of {len(rows)} given no category" if pipeline else ""))
    if REAL.exists():  # real English headlines labelled with events (tests/data/real_events.jsonl)
        for split in ("tune", "test"):
            s = evaluate(load_real_reports(REAL, split=split), ruleset)
            figures[f"real.{split}.grouping"] = {"precision": round(s.precision, 3), "recall": round(s.recall, 3),
                                                 "f1": round(s.f1, 3), "reports": s.reports, "events": s.gold_events,
                                                 "predicted": s.predicted_events}
            print(f"real {split:4} grouping  P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}   "
                  f"{s.reports} real English headlines of {s.gold_events} events -> {s.predicted_events} predicted")
    print(f"({time.perf_counter() - started:.1f} s, gazetteer load included)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
