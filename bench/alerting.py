"""Alert engine speed: microseconds per `AlertEngine.step` with 1,000 and with 10,000 open stories
in one rule, on real headlines, one core. The candidate index should keep the two close; the
full scan the engine replaced (every open story tested, newest first) is timed beside it.

Open stories are real headlines of late 2025 (`bench/classify.py`'s file; falls back to
tests/data/labelled.jsonl, which only reaches ~700 stories), all within the rule's horizon. Each
timed step is a further real headline: it joins a story or opens one, writes its changelog entry.
Run: `.venv/bin/python bench/alerting.py [STEPS]`.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerting.engine import AlertEngine, AlertState  # noqa: E402
from alerting.stories import must_share, same_story, story_tokens  # noqa: E402
from bench.classify import HEADLINES, real_titles  # noqa: E402
from core.contracts import CategoryMatch, ClassifiedHeadline  # noqa: E402
from rules.loader import load_rules  # noqa: E402

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile*"]}
alerts:
  - id: confirmed
    when: {categories: [airstrike], sources_at_least: 2}
    window: 1d
    throttle: 1d
    notify: [watch]
"""
T0 = datetime(2025, 11, 19, tzinfo=timezone.utc)


def titles() -> list[str]:
    if HEADLINES.exists():
        lines = real_titles()
    else:
        lines = [json.loads(line)["title"] for line in (ROOT / "tests" / "data" / "labelled.jsonl").read_text().splitlines() if line.strip()]
    lines = list(dict.fromkeys(lines))
    random.Random(7).shuffle(lines)
    return lines


def headline(i: int, title: str, seconds: float) -> ClassifiedHeadline:
    return ClassifiedHeadline(id=f"b{i}", feed_id="bench", source=f"Source {i % 40}", title=title, fetched=T0,
                              categories=[CategoryMatch(id="airstrike", severity="high", matched=["missile*"])],
                              places=[], rules_version="bench", classified=T0 + timedelta(seconds=seconds))


def filled(engine: AlertEngine, lines: list[str], n: int) -> tuple[list[tuple[str, bytes]], int]:
    """The changelog of a rule with n open stories, and how many headlines it took."""
    state = AlertState()
    used = 0
    while len(state.stories("confirmed")) < n and used < len(lines):
        h = headline(used, lines[used], used)
        engine.step(state, "confirmed", h, h.classified.timestamp())
        used += 1
    return list(state.records()), used


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    lines = titles()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yaml").write_text(RULES)
        ruleset = load_rules(Path(tmp))
    engine = AlertEngine(ruleset, max_stories=50_000)
    print(f"{len(lines):,} distinct real headlines; rule 'confirmed' (2 sources, 1 day window); {steps} timed steps x 5 runs")
    results = {}
    for n in (1000, 10000):
        records, used = filled(engine, lines, n)
        runs, sizes = [], []
        for run in range(5):  # fresh headlines each run: no cache of an earlier run helps
            timed = [headline(i, lines[i], i) for i in range(used + run * steps, used + (run + 1) * steps)]
            state = AlertState()
            if run == 0:
                tracemalloc.start()
            for key, value in records:  # the restart path: the state rebuilt from its changelog
                state.load(key, value)
            if run == 0:
                memory = tracemalloc.get_traced_memory()[0] / 1e6
                tracemalloc.stop()
            gc.collect()
            start = time.perf_counter()
            for h in timed:
                engine.step(state, "confirmed", h, h.classified.timestamp())
            runs.append((time.perf_counter() - start) / steps * 1e6)
            sizes.append(len(state.stories("confirmed")))
        listed = [(frozenset(s["tokens"]), s) for s in state.open_stories("confirmed")[:n]]
        start = time.perf_counter()
        for h in timed:
            tokens = story_tokens(h.title)
            key_words = must_share(tokens)
            next((s for t, s in reversed(listed) if not key_words.isdisjoint(t) and same_story(t, tokens)), None)
        scan = (time.perf_counter() - start) / steps * 1e6
        results[n] = (statistics.median(runs), scan)
        print(f"{n:>6,} open stories (to {max(sizes):,} after a run): step {statistics.median(runs):6.1f} µs median, "
              f"{min(runs):6.1f} min; full scan, matching alone: {scan:7.1f} µs; state {memory:.0f} MB")
    (small, _), (large, _) = results[1000], results[10000]
    print(f"10,000 vs 1,000 open stories: {large / small:.2f}x the time per step")
    print(json.dumps({"step_us": {str(n): round(r[0], 1) for n, r in results.items()},
                      "full_scan_match_us": {str(n): round(r[1], 1) for n, r in results.items()}}))


if __name__ == "__main__":
    main()
