"""Places: what the gazetteer costs to load and hold, how fast `rules.places.tag` is, and whether
its stems do as well as a lemmatizer on Ukrainian and Russian.

1. Gazetteer, at the shipped cut-off (cities of 15,000+ worldwide, 5,000+ in FOCUS countries) and
   at two others, 15,000 everywhere and 5,000 everywhere. Only the population cut-off changes
   (WORLD_CUTOFF / FOCUS_CUTOFF set in the child process); FOCUS itself stays, since emptying it
   would also drop the Cyrillic and alternate names of Ukrainian towns. Each figure comes from a
   fresh `python -c` child, so no cache of this process helps: seconds of `gazetteer()` after the
   imports (best and worst of 3 children), places and names (index entries); in another child,
   tracemalloc current and peak after the load, and RSS (VmRSS growth over the load, and VmHWM)
   from /proc/self/status. And which towns of the war each cut-off holds (`place_named`, a
   Ukrainian place of that name).
2. Tagging speed, headlines/s, single-threaded: `tag` over the real titles of
   ../shared/data/news-headlines-2025H2.txt (all of them) and over the texts of
   tests/data/places_ukru.jsonl repeated to 20,000. Same-run baselines on the same texts:
   `rules.text.words()` (the tokenising every headline already pays) and the category engine's
   `classify` with the shipped rules, so the figures read as ratios. The same with the
   15,000-everywhere and 5,000-everywhere gazetteers, built in this process, to show the cost does
   not follow the gazetteer's size.
3. Stems vs lemmatizers on the labelled uk/ru texts, scored by `rules.places.evaluate.score`
   (all rows, and the held-out "test" half). Only the finding of names changes: a lemmatizer row
   swaps the tagger's `find_spans` for one that looks a capitalised Cyrillic word, and up to three
   words after it, up in an exact-name dictionary; guards and the choice among candidates are the
   shipped tagger's. The dictionary holds every Cyrillic name the shipped gazetteer is built from
   (recorded as it loads), keyed by its folded words as written and by their lemmas (uk and ru);
   a headline word may be itself or its lemma(s) in the text's language (uk when it has і/ї/є/ґ
   and no language is given). simplemma: the lemma of the word as written and lower-cased, with
   its default per-word cache and with none (both rows); pymorphy3: the normal form of the first
   parse, and of any parse. Latin words go through the shipped index unchanged. The lemmatizers
   are not project dependencies: `pip install --target /tmp/benchlibs simplemma pymorphy3
   pymorphy3-dicts-uk pymorphy3-dicts-ru` (or set BENCH_LIBS); rows without them print skipped.

Run: `.venv/bin/python bench/places.py` (a few minutes). Timings on a shared machine are noisy:
read the ratios to the same-run baselines.
"""

from __future__ import annotations

import importlib
import itertools
import json
import math
import os
import subprocess
import sys
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_LIBS = Path(os.environ.get("BENCH_LIBS", "/tmp/benchlibs"))
if BENCH_LIBS.is_dir():
    sys.path.append(str(BENCH_LIBS))  # after the venv: the lemmatizers only, never the project's packages

from rules.loader import load_rules  # noqa: E402
from rules.places import tagger  # noqa: E402
from rules.places.evaluate import load_written, score  # noqa: E402
from rules.places.forms import all_caps, capitalised, is_cyrillic, tokens_with_case  # noqa: E402
from rules.places.gazetteer import Form, Gazetteer  # noqa: E402
from rules.text import _FOLD, words  # noqa: E402

# `import rules.places.gazetteer as g` would give the function rules.places exports under that name
g = importlib.import_module("rules.places.gazetteer")

HEADLINES = ROOT.parent / "shared" / "data" / "news-headlines-2025H2.txt"
UKRU = ROOT / "tests" / "data" / "places_ukru.jsonl"
CUTOFFS = [("shipped: 15k, 5k in FOCUS", 15000, 5000), ("15k everywhere", 15000, 15000), ("5k everywhere", 5000, 5000)]
WAR_TOWNS = ["Pokrovsk", "Kupiansk", "Enerhodar", "Chasiv Yar", "Huliaipole", "Vovchansk", "Kurakhove", "Siversk",
             "Toretsk", "Avdiivka", "Robotyne"]
UKRU_REPEATED = 20000

_CHILD = r"""
import importlib, json, sys, time
root, world, focus_cutoff, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
towns = json.loads(sys.argv[5])
sys.path.insert(0, root)
g = importlib.import_module("rules.places.gazetteer")
g.WORLD_CUTOFF, g.FOCUS_CUTOFF = world, focus_cutoff

def status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out

if mode == "mem":
    import tracemalloc
    tracemalloc.start()
before = status()
started = time.perf_counter()
gaz = g.gazetteer()
out = {"seconds": time.perf_counter() - started, "places": len(gaz.places),
       "names": sum(map(len, gaz.index.values())), "rss_before": before["VmRSS"]}
after = status()
out["rss_after"], out["hwm"] = after["VmRSS"], after["VmHWM"]
if mode == "mem":
    out["traced"], out["traced_peak"] = tracemalloc.get_traced_memory()
else:
    out["towns"] = {t: any(p.country == "UA" for p in gaz.place_named(t)) for t in towns}
print(json.dumps(out))
"""


def child(world: int, focus_cutoff: int, mode: str) -> dict:
    run = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(world), str(focus_cutoff), mode, json.dumps(WAR_TOWNS)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(run.stdout.strip().splitlines()[-1])


def table(head: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


MB = 1024 * 1024


def gazetteer_section() -> list[dict]:
    results = []
    for label, world, focus_cutoff in CUTOFFS:
        runs = [child(world, focus_cutoff, "time") for _ in range(3)]
        mem = child(world, focus_cutoff, "mem")
        secs = sorted(r["seconds"] for r in runs)
        results.append({"cutoff": label, "world": world, "focus": focus_cutoff, "seconds_best": round(secs[0], 2),
                        "seconds_worst": round(secs[-1], 2), "places": runs[0]["places"], "names": runs[0]["names"],
                        "traced_mb": round(mem["traced"] / MB, 1), "traced_peak_mb": round(mem["traced_peak"] / MB, 1),
                        "rss_growth_mb": round((runs[0]["rss_after"] - runs[0]["rss_before"]) / MB, 1),
                        "hwm_mb": round(runs[0]["hwm"] / MB, 1), "towns": runs[0]["towns"]})
    print("### 1. Gazetteer (each figure from fresh child processes)\n")
    table(["cut-off", "load s (best-worst of 3)", "places", "names", "tracemalloc MB now / peak", "RSS growth MB", "VmHWM MB"],
          [[r["cutoff"], f"{r['seconds_best']:.2f}-{r['seconds_worst']:.2f}", f"{r['places']:,}", f"{r['names']:,}",
            f"{r['traced_mb']} / {r['traced_peak_mb']}", r["rss_growth_mb"], r["hwm_mb"]] for r in results])
    table(["war town (a UA place of that name)"] + [r["cutoff"] for r in results],
          [[t] + ["found" if r["towns"][t] else "**missing**" for r in results] for t in WAR_TOWNS]
          + [["found"] + [f"{sum(r['towns'].values())}/{len(WAR_TOWNS)}" for r in results]])
    return results


# --- 2. tagging speed -------------------------------------------------------------------------------

def build(world: int, focus_cutoff: int, record: list | None = None) -> Gazetteer:
    """A gazetteer as `gazetteer()` builds it, at another cut-off; `record` gets every name added."""
    saved = (g.WORLD_CUTOFF, g.FOCUS_CUTOFF, g.Gazetteer.add_form, list(g._LOADED))
    g.WORLD_CUTOFF, g.FOCUS_CUTOFF = world, focus_cutoff
    if record is not None:
        add_form = saved[2]

        def recording(self, index, text, main=False, curated=False):  # type: ignore[no-untyped-def]
            record.append((index, text, main, curated))
            add_form(self, index, text, main, curated)

        g.Gazetteer.add_form = recording  # type: ignore[method-assign]
    g._LOADED.clear()
    try:
        return g.gazetteer()
    finally:
        g.WORLD_CUTOFF, g.FOCUS_CUTOFF, g.Gazetteer.add_form = saved[:3]
        g._LOADED[:] = saved[3]


def best_rate(fn: Callable, items: list, repeats: int = 3) -> tuple[float, float]:
    """Items/s of the best of `repeats` full passes, and the mean of fn's numeric result."""
    best = math.inf
    total = 0
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for item in items:
            total += fn(item)
        best = min(best, time.perf_counter() - started)
    return len(items) / best, total / len(items)


def speed_section(gazetteers: dict[str, Gazetteer], titles: list[str], ukru: list[tuple[str, str | None]]) -> list[dict]:
    engine = load_rules(None).engine
    results = []
    sets = [(f"real headlines ({len(titles):,})", [(t, "en") for t in titles]), (f"uk/ru texts ({len(ukru):,})", ukru)]
    for set_name, items in sets:
        base_words, n_words = best_rate(lambda x: len(words(x[0])), items)
        base_cls, _ = best_rate(lambda x: len(engine.classify(x[0])), items)
        rows = [("words()", base_words, None), ("engine.classify()", base_cls, None)]
        for label, gaz in gazetteers.items():
            rate, per = best_rate(lambda x, gaz=gaz: len(tagger.tag(x[0], language=x[1], gaz=gaz)), items)
            rows.append((f"tag(), {label} ({len(gaz.places):,} places)", rate, per))
        for what, rate, per in rows:
            results.append({"texts": set_name, "what": what, "headlines_per_s": round(rate), "words_per_text": round(n_words, 1),
                            "cost_vs_words": round(base_words / rate, 2), "cost_vs_classify": round(base_cls / rate, 2),
                            "places_per_text": None if per is None else round(per, 3)})
    print("### 2. Tagging speed (single thread; cost = time per headline / the baseline's)\n")
    table(["texts", "what", "headlines/s", "cost vs words()", "cost vs classify()", "places/text"],
          [[r["texts"], r["what"], f"{r['headlines_per_s']:,}", f"{r['cost_vs_words']:.2f}x", f"{r['cost_vs_classify']:.2f}x",
            "" if r["places_per_text"] is None else r["places_per_text"]] for r in results])
    return results


# --- 3. stems vs lemmatizers ------------------------------------------------------------------------

def fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).translate(_FOLD).casefold()


_UK_LETTERS = frozenset("іїєґІЇЄҐ")
_STATE: dict[str, str] = {"lang": "uk"}


class Lemmas:
    """A lemmatizer as the dictionary needs it: `name(word, lang)` the lemma of a name's word,
    `candidates(written, lang)` what a headline's word may stand for (itself included)."""

    def __init__(self, label: str, name: Callable[[str, str], str], candidates: Callable[[str, str], set[str]]) -> None:
        self.label, self.name, self.candidates = label, name, candidates


def lemma_dictionary(gaz: Gazetteer, record: list, lemmas: Lemmas) -> tuple[dict[tuple[str, ...], list[Form]], int]:
    entries: dict[tuple[str, ...], dict[int, Form]] = {}
    for index, text, main, curated in record:
        if not is_cyrillic(text):
            continue
        toks = tokens_with_case(text)
        if not toks:
            continue
        written = [w for w, _ in toks]
        folded = tuple(f for _, f in toks)
        place = gaz.places[index]
        acronym = len(written) == 1 and written[0].isupper() and len(written[0]) <= 4
        bare = place.kind == "region" and not curated and not g._ADMIN_WORD.search(" ".join(folded))
        form = Form(index, (), True, acronym, bare, main, folded[0])
        keys = {folded} | {tuple(fold(lemmas.name(w, lang)) for w in written) for lang in ("uk", "ru")}
        for key in keys:
            have = entries.setdefault(key, {})
            if index not in have or (main and not have[index].main):
                have[index] = form
    longest = max(map(len, entries))
    return {k: list(v.values()) for k, v in entries.items()}, longest


def lemma_find_spans(table_: dict[tuple[str, ...], list[Form]], longest: int, lemmas: Lemmas) -> Callable:
    def find_spans(gaz: Gazetteer, written: list[str], folded: list[str]) -> list[tagger.Span]:
        lang = _STATE["lang"]
        cands: list[list[str] | None] = [None] * len(folded)
        found = []
        for start, word in enumerate(written):
            if not capitalised(word):
                continue
            caps = all_caps(word)
            by_end: dict[int, list[Form]] = {}
            if not is_cyrillic(word):  # Latin names as the shipped tagger finds them
                for form in gaz.index.get(folded[start], ()):
                    if form.cyrillic or (form.acronym != caps and (form.acronym or len(word) <= 4)):
                        continue
                    if form.rest and not tagger._rest_ok(form, folded, [None] * len(folded), start):
                        continue
                    by_end.setdefault(start + form.length, []).append(form)
            else:
                for n in range(min(longest, len(folded) - start), 0, -1):
                    for i in range(start, start + n):
                        if cands[i] is None:
                            cands[i] = sorted(lemmas.candidates(written[i], lang) | {folded[i]})
                    seen: set[int] = set()
                    for key in itertools.product(*cands[start:start + n]):
                        for form in table_.get(key, ()):
                            if form.place in seen or (form.acronym != caps and (form.acronym or len(word) <= 4)):
                                continue
                            seen.add(form.place)
                            by_end.setdefault(start + n, []).append(form)
            for end, forms in by_end.items():
                found.append(tagger.Span(start, end, forms))
        return tagger.longest_first(found, len(folded))

    return find_spans


@contextmanager
def matching_by(find_spans: Callable | None):
    """`tag` (and so `score`) with another way of finding names; the language reaches it via _STATE."""
    if find_spans is None:
        yield
        return
    saved = tagger.find_spans, tagger.places_in
    inner = tagger.places_in

    def places_in(text: str, language: str | None = None, gaz: Gazetteer | None = None,  # type: ignore[no-untyped-def]
                  toks: list[tuple[str, str]] | None = None, around=tagger.NO_CONTEXT, tell: bool = False):
        _STATE["lang"] = language if language in ("uk", "ru") else ("uk" if _UK_LETTERS & set(text) else "ru")
        return inner(text, language, gaz, toks, around, tell)

    tagger.find_spans, tagger.places_in = find_spans, places_in
    try:
        yield
    finally:
        tagger.find_spans, tagger.places_in = saved


def lemmatizers() -> list[tuple[str, Callable[[], Lemmas] | None, str]]:
    """(row label, a maker of the Lemmas, or None when the library is missing, the skip note)."""
    out: list[tuple[str, Callable[[], Lemmas] | None, str]] = []
    try:
        import simplemma
    except ImportError:
        out += [(label, None, "skipped (pip install simplemma)") for label in ("simplemma (cached)", "simplemma (no cache)")]
    else:
        def simple(cache: int) -> Callable[[], Lemmas]:
            def make() -> Lemmas:
                lem = simplemma.Lemmatizer(cache_max_size=cache)
                return Lemmas("", lambda w, lang: lem.lemmatize(w, lang=(lang,)),
                              lambda w, lang: {fold(lem.lemmatize(w, lang=(lang,))), fold(lem.lemmatize(w.lower(), lang=(lang,)))})
            return make
        out += [("simplemma (default cache)", simple(65536), ""), ("simplemma (no cache)", simple(0), "")]
    try:
        import pymorphy3
        pymorphy3.MorphAnalyzer(lang="uk")
        pymorphy3.MorphAnalyzer(lang="ru")
    except Exception:  # missing package or dictionaries
        out += [(label, None, "skipped (pip install pymorphy3 pymorphy3-dicts-uk pymorphy3-dicts-ru)")
                for label in ("pymorphy3 (first parse)", "pymorphy3 (any parse)")]
    else:
        def morph(any_parse: bool) -> Callable[[], Lemmas]:
            def make() -> Lemmas:
                an = {lang: pymorphy3.MorphAnalyzer(lang=lang) for lang in ("uk", "ru")}
                if any_parse:
                    cands = lambda w, lang: {fold(p.normal_form) for p in an[lang].parse(w)}  # noqa: E731
                else:
                    cands = lambda w, lang: {fold(an[lang].parse(w)[0].normal_form)}  # noqa: E731
                return Lemmas("", lambda w, lang: an[lang].parse(w)[0].normal_form, cands)
            return make
        out += [("pymorphy3 (first parse)", morph(False), ""), ("pymorphy3 (any parse)", morph(True), "")]
    return out


def lemma_section(gaz: Gazetteer, record: list, ukru_rows: list, ukru: list[tuple[str, str | None]]) -> list[dict]:
    test_rows = [r for r in ukru_rows if r.split == "test"]
    n_words = sum(len(words(t)) for t, _ in ukru) / len(ukru)
    approaches: list[tuple[str, Callable | None, str, float]] = [("shipped stems (forms.peel)", None, "", 0.0)]
    for label, make, note in lemmatizers():
        if make is None:
            approaches.append((label, None, note, 0.0))
            continue
        started = time.perf_counter()
        lemmas = make()
        table_, longest = lemma_dictionary(gaz, record, lemmas)
        approaches.append((label, lemma_find_spans(table_, longest, lemmas), "", time.perf_counter() - started))
    results = []
    for label, find, note, setup in approaches:
        if note:
            results.append({"approach": label, "skipped": note})
            continue
        with matching_by(find):
            s_all, s_test = score(ukru_rows, gaz), score(test_rows, gaz)
            rate, per = best_rate(lambda x: len(tagger.tag(x[0], language=x[1], gaz=gaz)), ukru, repeats=1 if find else 3)
        results.append({"approach": label, "precision": round(s_all.precision(), 3), "recall": round(s_all.recall(), 3),
                        "f1": round(s_all.f1(), 3), "test_precision": round(s_test.precision(), 3),
                        "test_recall": round(s_test.recall(), 3), "headlines_per_s": round(rate),
                        "words_per_s": round(rate * n_words), "setup_s": round(setup, 1), "places_per_text": round(per, 3)})
    print(f"### 3. Stems vs lemmatizers, uk/ru labelled texts ({len(ukru_rows)} rows, {len(test_rows)} held out; "
          f"speed over {len(ukru):,} repeated texts, {n_words:.1f} words each)\n")
    rows = []
    for r in results:
        if "skipped" in r:
            rows.append([r["approach"], r["skipped"], "", "", "", "", ""])
        else:
            rows.append([r["approach"], f"{r['precision']:.3f} / {r['recall']:.3f}", f"{r['f1']:.3f}",
                         f"{r['test_precision']:.3f} / {r['test_recall']:.3f}", f"{r['headlines_per_s']:,}",
                         f"{r['words_per_s']:,}", r["setup_s"] or ""])
    table(["approach", "P / R (all)", "F1 (all)", "P / R (held out)", "headlines/s", "words/s", "setup s (dictionary)"], rows)
    return results


def main() -> None:
    print(f"cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f} at start (noisy if other work runs: read ratios)\n")
    gaz_results = gazetteer_section()
    record: list = []
    shipped = build(15000, 5000, record)
    gazetteers = {"shipped": shipped, "15k everywhere": build(15000, 15000), "5k everywhere": build(5000, 5000)}
    titles = [l.rsplit(" - ", 1)[0] for l in HEADLINES.read_text(encoding="utf-8").splitlines() if l.strip()]
    ukru_rows = load_written(UKRU)
    base = [(r.text, r.language) for r in ukru_rows]
    ukru = (base * (UKRU_REPEATED // len(base) + 1))[:UKRU_REPEATED]
    speed_results = speed_section(gazetteers, titles, ukru)
    lemma_results = lemma_section(shipped, record, ukru_rows, ukru)
    print(json.dumps({"gazetteer": gaz_results, "speed": speed_results, "lemmatizers": lemma_results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
