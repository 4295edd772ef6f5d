"""Alert engine speed: microseconds per `AlertEngine.step` (grouping a report into its event,
the rules' decisions, the changelog and public event records) with 1,000 and with 10,000 open
events, on real headlines, one core. The candidate index (place ids, prefix-filtered stems)
should keep the two close; comparing with every open event is timed beside it.

Open events are real headlines of late 2025 (`bench/classify.py`'s file, placed by the real
tagger; falls back to tests/data/labelled.jsonl, which only reaches ~700 events), all within an
event's time span. Each timed step is a further real headline: it joins an event or opens one.
Last, the cost of comparing by meaning (alerting/meaning.py): a Ukrainian or Russian report the
rules leave alone beside those open English events.
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

from alerting.engine import AlertEngine, report_time  # noqa: E402
from alerting.grouping import guess_language, in_time, same_event, signature  # noqa: E402
from alerting.state import AlertState  # noqa: E402
from bench.classify import HEADLINES, real_titles  # noqa: E402
from core.contracts import CategoryMatch, ClassifiedHeadline, Place  # noqa: E402
from rules.loader import load_rules  # noqa: E402
from rules.places import tag  # noqa: E402

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


_PLACES: dict[str, list[Place]] = {}


def headline(i: int, title: str, seconds: float) -> ClassifiedHeadline:
    places = _PLACES.get(title)
    if places is None:
        places = _PLACES[title] = [Place(**p.as_dict()) for p in tag(title, "", "en")]
    at = T0 + timedelta(seconds=seconds)
    return ClassifiedHeadline(id=f"b{i}", feed_id="bench", source=f"Source {i % 40}", title=title, fetched=at,
                              categories=[CategoryMatch(id="airstrike", severity="high", matched=["missile*"])],
                              places=places, rules_version="bench", classified=at)


def step(engine: AlertEngine, state: AlertState, h: ClassifiedHeadline):
    return engine.step(state, h, ["confirmed"], h.classified.timestamp())


def filled(engine: AlertEngine, lines: list[str], n: int, spare: int) -> tuple[list[tuple[str, bytes]], int]:
    """The changelog of n open events (fewer if the headlines run out, `spare` kept for the timed
    steps), and how many headlines it took (a second apart: all stay open)."""
    state = AlertState()
    used = 0
    while len(state.events) < n and used < len(lines) - spare:
        step(engine, state, headline(used, lines[used], used))
        used += 1
    return list(state.records()), used


def full_scan(state: AlertState, h: ClassifiedHeadline) -> dict | None:
    """What the index spares: every open event's members compared with the report."""
    sig = signature(report_time(h), [c.id for c in h.categories], [p.model_dump() for p in h.places], h.title,
                    guess_language(h.title, h.language))
    best, chosen = None, None
    for event in state.events:
        if not in_time(sig, event["first_seen"], event["last_seen"]):
            continue
        for member in state.events.members(event["id"]):
            ok, score = same_event(sig, member)
            if ok and (best is None or score > best):
                best, chosen = score, event
    return chosen


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    lines = titles()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yaml").write_text(RULES)
        ruleset = load_rules(Path(tmp))
    engine = AlertEngine(ruleset, group_wait=20)
    print(f"{len(lines):,} distinct real headlines; rule 'confirmed' (2 sources); {steps} timed steps x 5 runs")
    results = {}
    for n in (1000, 10000):
        records, used = filled(engine, lines, n, 5 * steps)
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
                step(engine, state, h)
            runs.append((time.perf_counter() - start) / steps * 1e6)
            sizes.append(len(state.events))
        start = time.perf_counter()
        for h in timed[:50]:
            full_scan(state, h)
        scan = (time.perf_counter() - start) / 50 * 1e6
        results[n] = (statistics.median(runs), scan)
        print(f"{n:>6,} open events (to {max(sizes):,} after a run): step {statistics.median(runs):7.1f} µs median, "
              f"{min(runs):7.1f} min; every event compared, matching alone: {scan:9.1f} µs; state {memory:.0f} MB")
    (small, _), (large, _) = results[1000], results[10000]
    print(f"10,000 vs 1,000 open events: {large / small:.2f}x the time per step "
          f"(comparing with every event: {results[10000][1] / results[1000][1]:.1f}x)")
    meaning_ms = meaning(engine, lines, steps)
    print(json.dumps({"step_us": {str(n): round(r[0], 1) for n, r in results.items()},
                      "full_scan_match_us": {str(n): round(r[1], 1) for n, r in results.items()},
                      "meaning_ms": meaning_ms}))


def cyrillic_titles() -> list[str]:
    """Ukrainian and Russian titles of the labelled clustering sets (tests/data)."""
    out = []
    for name in ("events.jsonl", "events_third.jsonl", "events_fourth.jsonl", "events_fresh.jsonl"):
        for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("language") in ("uk", "ru"):
                out.append((row["title"], row["language"]))
    return list(dict.fromkeys(out))


def meaning(engine: AlertEngine, lines: list[str], steps: int) -> dict:
    """Comparing by meaning (alerting/meaning.py) costs a vector per title (about 60 ms here) and
    a dot product per candidate report. Timed: a title's vector; and the lookup by meaning
    (`EventBook.alike_in_meaning`) of a Ukrainian or Russian report naming no place beside 1,000
    and 10,000 open English events of its category, with the vectors made (each title's once; a
    report not seen before adds one vector). The candidates are capped (the newest 200 events,
    their first 8 reports), so the two should stay close; the first lookup, which makes the
    candidates' vectors, is printed beside."""
    from alerting.meaning import meanings

    shared = meanings()
    fresh = cyrillic_titles()
    probes = min(50, max(10, steps // 6))
    out: dict = {}
    start = time.perf_counter()
    for title, _ in fresh[:probes]:
        shared.vector(title)
    out["vector_ms"] = round((time.perf_counter() - start) / probes * 1e3, 1)
    print(f"meaning: one title's vector {out['vector_ms']:.1f} ms (multilingual-e5-small, 4-bit, one core)")
    for n in (1000, 10000):
        records, used = filled(engine, lines, n, 0)
        state = AlertState()
        for key, value in records:
            state.load(key, value)
        at = (T0 + timedelta(seconds=used)).timestamp()  # the moment after the last event opened
        sigs = [signature(at, ["airstrike"], [], title, language) for title, language in fresh[:probes]]
        begun = time.perf_counter()
        joined = state.events.alike_in_meaning(sigs[0], shared) is not None
        first = time.perf_counter() - begun
        times = []
        for sig in sigs[1:]:
            begun = time.perf_counter()
            joined += state.events.alike_in_meaning(sig, shared) is not None
            times.append(time.perf_counter() - begun)
        out[str(n)] = {"first_s": round(first, 2), "lookup_ms": round(statistics.median(times) * 1e3, 2), "joined": joined}
        print(f"{n:>6,} open English events: lookup by meaning {statistics.median(times) * 1e3:6.2f} ms median of "
              f"{len(times)} Cyrillic reports, vectors made ({joined} of {probes} found an event); the first, "
              f"making the candidates' vectors: {first:5.1f} s")
    small, large = out["1000"]["lookup_ms"], out["10000"]["lookup_ms"]
    print(f"10,000 vs 1,000 open events: {large / small:.2f}x the lookup by meaning")
    return out

if __name__ == "__main__":
    main()
