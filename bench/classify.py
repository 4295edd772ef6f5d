"""Classification speed: headlines/s for 10, 1,000 and 10,000 rules.

Baseline, measured in the same run on the same headlines: one compiled regex per rule, looped
in Python (what a naive implementation does). Input: the real headlines in
../shared/data/news-headlines-2025H2.txt. Run: `.venv/bin/python bench/classify.py [REV]`.

Then the shipped packs (rules/packs) on the same headlines, and, given a git revision REV, the
packs as they were at REV in the same run: a pack change must not slow classification down.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.loader import load_rules  # noqa: E402
from rules.text import words  # noqa: E402

HEADLINES = ROOT.parent / "shared" / "data" / "news-headlines-2025H2.txt"


def synthetic_rules(n: int, vocab: list[str], rng: random.Random) -> list[dict]:
    """Rules shaped like real ones: a handful of names, phrases and stems, some vetoes.

    Terms come from the real headlines' vocabulary below its 1,000 commonest words, so the rules
    match real text at a realistic rate (a few rules per headline even at 10,000 rules).
    """
    long_words = [v for v in vocab if len(v) >= 7]
    rules = []
    for i in range(n):
        terms = []
        for _ in range(rng.randint(3, 8)):
            kind = rng.random()
            if kind < 0.4:
                terms.append(rng.choice(vocab))
            elif kind < 0.85:
                terms.append(f"{rng.choice(vocab)} {rng.choice(vocab)}")
            else:
                w = rng.choice(long_words)
                terms.append(w[: len(w) - 2] + "*")
        rule = {"id": f"r{i}", "title": f"rule {i}", "match": {"any": terms}}
        if rng.random() < 0.3:
            rule["match"]["none"] = [rng.choice(vocab)]
        rules.append(rule)
    return rules


def baseline_regexes(rules: list[dict]) -> list[tuple[str, re.Pattern, re.Pattern | None]]:
    def alt(terms: list[str]) -> re.Pattern:
        parts = []
        for t in terms:
            stem = t.endswith("*")
            body = r"\W+".join(re.escape(w) for w in t.rstrip("*").split())
            parts.append(body + (r"\w*" if stem else ""))
        return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)

    return [(r["id"], alt(r["match"]["any"]), alt(r["match"]["none"]) if r["match"].get("none") else None) for r in rules]


def rate(fn, headlines: list[str], min_seconds: float = 1.0) -> tuple[float, int]:
    started = time.perf_counter()
    done = 0
    total_matches = 0
    while True:
        for h in headlines:
            total_matches += fn(h)
        done += len(headlines)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed, total_matches


def real_titles() -> list[str]:
    return [l.rsplit(" - ", 1)[0] for l in HEADLINES.read_text(encoding="utf-8").splitlines() if l.strip()]


def vocabulary(lines: list[str]) -> list[str]:
    """Words of the real headlines by frequency, less the 1,000 commonest (the, says, trump...):
    real rules name events, not glue words."""
    counts: dict[str, int] = {}
    for line in lines:
        for w in words(line):
            if len(w) > 2 and w.isalpha():
                counts[w] = counts.get(w, 0) + 1
    return sorted(counts, key=counts.get, reverse=True)[1000:20000]


def main() -> None:
    rng = random.Random(7)
    lines = real_titles()
    vocab = vocabulary(lines)
    print(f"{len(lines)} real headlines; vocabulary {len(vocab)} words; cores: 1 (single-threaded loop)")
    results = []
    for n in (10, 1000, 10000):
        rules = synthetic_rules(n, vocab, rng)
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "rules.yaml").write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True))
            started = time.perf_counter()
            engine = load_rules(Path(tmp)).engine
            compile_s = time.perf_counter() - started
        wf_rate, wf_matches = rate(lambda h: len(engine.classify(h)), lines[:20000])
        regexes = baseline_regexes(rules)

        def naive(h: str) -> int:
            return sum(1 for _, pos, neg in regexes if pos.search(h) and not (neg and neg.search(h)))

        sample = lines[: max(50, 20000 // max(1, n // 10))]
        base_rate, _ = rate(naive, sample)
        # Both should find the same rules; they differ only where the regex's \b splits a word
        # at an apostrophe ("don" in "don't"), which the engine rightly does not.
        agree = sum(sorted(m.id for m in engine.classify(h)) == sorted(i for i, p, q in regexes if p.search(h) and not (q and q.search(h)))
                    for h in sample[:300]) / len(sample[:300])
        per_headline = sum(len(engine.classify(h)) for h in lines[:5000]) / 5000
        results.append({"rules": n, "matches_per_headline": round(per_headline, 2), "watchfloor_headlines_per_s": round(wf_rate), "baseline_headlines_per_s": round(base_rate, 1),
                        "speedup": round(wf_rate / base_rate, 1), "compile_s": round(compile_s, 2), "same_matches_share": round(agree, 3)})
        print(f"{n:>6} rules: watchfloor {wf_rate:>9.0f} headlines/s | regex-per-rule baseline {base_rate:>9.1f} headlines/s | "
              f"{wf_rate / base_rate:>7.1f}x | compile {compile_s:.2f}s | {per_headline:.2f} matches/headline | same matches as baseline on {agree:.1%} of a sample")
    print(json.dumps(results))
    shipped(lines, sys.argv[1] if len(sys.argv) > 1 else None)


def packs_at(rev: str, folder: Path) -> Path:
    """rules/packs as of git revision `rev`, written into `folder`."""
    names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{rev}:rules/packs"],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        if name.endswith(".yaml"):
            text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:rules/packs/{name}"],
                                  capture_output=True, text=True, check=True).stdout
            (folder / name).write_text(text)
    return folder


def shipped(lines: list[str], rev: str | None) -> None:
    """The shipped packs' speed, and (with `rev`) the same packs at that revision, alternated
    five times, best of each, so that the machine's noise falls on both."""
    packs = {"now": ROOT / "rules" / "packs"}
    with tempfile.TemporaryDirectory() as tmp:
        if rev:
            packs[rev] = packs_at(rev, Path(tmp))
        engines = {name: load_rules(folder).engine for name, folder in packs.items()}
        best: dict[str, float] = {}
        for _ in range(5):
            for name, engine in engines.items():
                r, _ = rate(lambda h: len(engine.classify(h)), lines[:20000])
                best[name] = max(best.get(name, 0.0), r)
    for name, r in best.items():
        print(f"shipped packs ({name}): {r:>9.0f} headlines/s" + (f" = {r / best[rev]:.2f}x the packs at {rev}" if rev and name == "now" else ""))


if __name__ == "__main__":
    main()
