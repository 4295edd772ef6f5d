"""`rules test`, `classify` and `rules eval` as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import BIN, ROOT, SHARED_HEADLINES

WATCHFLOOR = str(BIN / "watchfloor")
LABELLED = ROOT / "tests" / "data" / "labelled.jsonl"
REQUIRED = ("airstrike", "sabotage", "diplomacy", "maritime_espionage")

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match:
      any: ["missile strike*", "drone attack*"]
      none: ["hunger strike"]
  - id: diplomacy
    title: Talks
    match:
      any: ["peace talks"]
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    return tmp_path


def wf(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATCHFLOOR, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_rules_test_shows_terms_and_positions(rules_dir):
    proc = wf("rules", "test", "Overnight missile strikes hit Kharkiv", "--rules", str(rules_dir))
    assert proc.returncode == 0
    assert "MATCH airstrike (high)" in proc.stdout
    assert "'missile strike*' in title at word 2: 'missile strikes'" in proc.stdout


def test_rules_test_explains_a_veto_and_exits_1_on_no_match(rules_dir):
    proc = wf("rules", "test", "Hunger strike after missile strike", "--rules", str(rules_dir))
    assert proc.returncode == 1
    assert "no match airstrike" in proc.stdout and "no rule matches" in proc.stdout
    assert ('    vetoed by none: "hunger strike" (line 7); '
            "'hunger strike' in title at word 1") in proc.stdout.splitlines()


def _reasons(stdout: str, rule_id: str) -> list[str]:
    """The indented reason lines `rules test` prints under `no match RULE_ID`."""
    lines = stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(f"no match {rule_id} "))
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line)
    return out


def test_rules_test_names_the_shipped_veto_of_a_hunger_strike():
    """The shipped airstrike pack vetoes hunger strikes at the top of its rule; `rules test` names
    the veto and its line in the pack."""
    proc = wf("rules", "test", "Hunger strike enters day 21")
    assert proc.returncode == 1
    pack = ROOT / "rules" / "packs" / "airstrike.yaml"
    lines = pack.read_text().splitlines()
    rule_line = next(i for i, l in enumerate(lines, 1) if l.strip() == "- id: airstrike")
    assert f"no match airstrike ({pack}:{rule_line}): found [" in proc.stdout
    reason = _reasons(proc.stdout, "airstrike")[0]
    assert reason.startswith('    vetoed by none: "hunger strik') and "'hunger strike' in title at word 1" in reason
    veto_line = int(reason.split("(line ")[1].split(")")[0])
    assert lines[veto_line - 1].strip().startswith('- "hunger strik')
    # docs/rules.md shows this very run: its example must be what an operator sees today
    docs = (ROOT / "docs" / "rules.md").read_text()
    block = docs.split('$ watchfloor rules test "Hunger strike enters day 21"\n', 1)[1].split("  ...", 1)[0]
    shown = [line[2:] for line in block.splitlines()]
    assert shown == proc.stdout.replace(str(ROOT) + "/", "").splitlines()[:len(shown)], shown


def test_rules_test_keeps_each_rules_reasons_short_unless_asked():
    """A shipped rule has dozens of branches: an operator trying a headline reads the first few
    reasons of each rule that does not match, and `--all` for every one."""
    short = wf("rules", "test", "Russian drones hit Kharkiv overnight")
    full = wf("rules", "test", "Russian drones hit Kharkiv overnight", "--all")
    assert short.returncode == full.returncode == 0
    assert _reasons(full.stdout, "diplomacy")[:6] == _reasons(short.stdout, "diplomacy")[:6]
    assert len(_reasons(full.stdout, "diplomacy")) > 7
    more = _reasons(short.stdout, "diplomacy")[6:]
    assert len(more) == 1 and more[0].endswith("more (--all shows every reason)"), more


NESTED = """\
rules:
  - id: kyiv_drones
    title: Drones over Kyiv
    match:
      all:
        - "drone*"
        - "kyiv*"
        - any: ["attack*", "strike*"]
      none:
        - "drone show*"
        - all: ["festival", "lights"]
"""


def test_rules_test_names_the_missing_all_item_and_the_vetoing_condition(tmp_path):
    (tmp_path / "r.yaml").write_text(NESTED)
    proc = wf("rules", "test", "Drone attack on Lviv", "--rules", str(tmp_path))
    assert proc.returncode == 1
    assert _reasons(proc.stdout, "kyiv_drones") == ['    missing all: "kyiv*" (line 7)']

    proc = wf("rules", "test", "Drones seen over Kyiv", "--rules", str(tmp_path))
    assert _reasons(proc.stdout, "kyiv_drones") == ["    missing all[2]: none of its `any` items is present (line 8)"]

    proc = wf("rules", "test", "Drone attack on Kyiv during festival of lights", "--rules", str(tmp_path))
    assert _reasons(proc.stdout, "kyiv_drones") == [
        '    vetoed by none[1], a condition that matches (found "festival", "lights") (line 11)']

    proc = wf("rules", "test", "Drone show strikes Kyiv audience", "--rules", str(tmp_path))
    assert _reasons(proc.stdout, "kyiv_drones") == [
        '    vetoed by none: "drone show*" (line 10); \'drone show\' in title at word 1']


def test_a_rule_reading_only_titles_says_its_terms_were_only_in_the_summary(tmp_path):
    (tmp_path / "r.yaml").write_text(RULES.replace("    title: Talks\n", "    title: Talks\n    fields: [title]\n"))
    proc = wf("rules", "test", "Leaders meet", "--summary", "Peace talks resume", "--rules", str(tmp_path))
    assert proc.returncode == 1
    assert _reasons(proc.stdout, "diplomacy")[0] == \
        '    found "peace talks" only in summary, which the rule does not read (line 11)'


def test_why_not_agrees_with_classify_on_the_labelled_headlines():
    """The explanation is a separate walk from the hot path: on every labelled headline it must
    give reasons exactly for the rules that found terms and did not match."""
    from rules.loader import load_rules

    engine = load_rules().engine
    explained = 0
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        title, summary = item["title"], item.get("summary") or ""
        matched = {m.id for m in engine.classify(title, summary)}
        why_not = engine.why_not(title, summary)
        assert not matched & set(why_not), title
        assert all(why_not.values()), (title, why_not)
        explained += len(why_not)
    assert explained > 100


def test_classify_streams_json_lines_in_order(rules_dir):
    lines = [
        json.dumps({"id": "1", "title": "Missile strike on Odesa", "summary": "x", "extra": [1]}),
        "Peace talks open in Geneva",
        json.dumps({"id": "3", "title": "Cup final tonight"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "5", "title": "Leaders meet", "summary": "Drone attacks continue"}),
    ]
    proc = wf("classify", "--rules", str(rules_dir), stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(l) for l in proc.stdout.splitlines()]
    assert len(out) == 5
    odesa = {"id": 698740, "name": "Odesa", "kind": "city", "country": "UA", "admin1": "17"}
    assert {k: v for k, v in out[0].items() if k != "places"} == {
        "id": "1", "title": "Missile strike on Odesa", "summary": "x", "extra": [1],
        "categories": [{"id": "airstrike", "severity": "high", "matched": ["missile strike*"]}]}
    assert [{k: p[k] for k in odesa} for p in out[0]["places"]] == [odesa]
    assert out[1]["title"] == "Peace talks open in Geneva" and [c["id"] for c in out[1]["categories"]] == ["diplomacy"]
    assert [p["name"] for p in out[1]["places"]] == ["Geneva"]
    assert out[2]["categories"] == [] and out[2]["places"] == []
    assert out[3]["title"] == '["not", "an", "object"]'
    assert [c["id"] for c in out[4]["categories"]] == ["airstrike"]


def test_classify_handles_a_large_stream(rules_dir, tmp_path):
    big = tmp_path / "big.jsonl"
    with big.open("w") as fh:
        for i in range(200_000):
            fh.write(json.dumps({"id": str(i), "title": "Missile strike on Odesa" if i % 2 else "Weather"}) + "\n")
    with big.open() as stdin:
        proc = subprocess.run([WATCHFLOOR, "classify", "--rules", str(rules_dir)], stdin=stdin, capture_output=True, text=True)
    out = proc.stdout.splitlines()
    assert len(out) == 200_000
    last = json.loads(out[-1])
    assert [p["name"] for p in last.pop("places")] == ["Odesa"]
    assert last == {"id": "199999", "title": "Missile strike on Odesa",
                    "categories": [{"id": "airstrike", "severity": "high", "matched": ["missile strike*"]}]}


def test_rules_eval_prints_scores_and_misclassified(rules_dir, tmp_path):
    quiet_dir = Path(tempfile.mkdtemp())  # not under rules_dir (tmp_path), whose rules it would duplicate
    (quiet_dir / "r.yaml").write_text(RULES + """  - id: weather
    title: Weather
    match:
      any: ["blizzard*"]
""")
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("\n".join(json.dumps(x) for x in [
        {"title": "Missile strike on Odesa", "labels": ["airstrike"]},
        {"title": "Drone attack on Kyiv", "labels": ["airstrike"]},
        {"title": "Shelling of Kherson", "labels": ["airstrike"]},
        {"title": "Peace talks in Geneva", "labels": ["diplomacy"]},
        {"title": "Hunger strike ends", "labels": []},
    ]) + "\n")
    proc = wf("rules", "eval", str(labelled), "--rules", str(rules_dir))
    assert proc.returncode == 0, proc.stderr
    row = next(l for l in proc.stdout.splitlines() if l.startswith("airstrike"))
    assert row.split()[1:5] == ["1.000", "0.667", "0.800", "3"]
    assert f"{labelled}:3: expected ['airstrike'] got []: Shelling of Kherson" in proc.stdout
    # a category no item is labelled with and none matched says nothing: "-", not a perfect score
    quiet = wf("rules", "eval", str(labelled), "--rules", str(quiet_dir))
    assert quiet.returncode == 0, quiet.stderr
    row = next(l for l in quiet.stdout.splitlines() if l.startswith("weather"))
    assert row.split()[1:5] == ["-", "-", "-", "0"]


def test_rules_eval_rejects_malformed_input(rules_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x"}\n')
    proc = wf("rules", "eval", str(bad), "--rules", str(rules_dir))
    assert proc.returncode == 2 and f"{bad}:1:" in proc.stderr


def test_rules_eval_reads_line_numbers_splits_and_languages(rules_dir, tmp_path):
    """A set labelled on real headlines keeps only line numbers: the text comes from the headlines
    file; --split reports on one part; Ukrainian and Russian get their own figures."""
    headlines = tmp_path / "headlines.txt"
    headlines.write_text("Missile strike on Odesa port - Wire\nShelling of Kherson - Wire\n"
                         "Peace talks in Geneva - Wire\nУдар по Києву: ракетний удар - Укрінформ\n"
                         "Missile strike* sale at the mall - Ads\n")
    labelled = tmp_path / "real.jsonl"
    labelled.write_text("\n".join(json.dumps(x) for x in [
        {"line": 1, "labels": ["airstrike"], "split": "tune"},
        {"line": 2, "labels": ["airstrike"], "split": "test"},
        {"line": 3, "labels": ["diplomacy"], "split": "test"},
        {"line": 4, "labels": ["airstrike"], "split": "test"},
        {"title": "Ракетний удар по Одесі", "labels": ["airstrike"], "language": "ru", "split": "test"},
    ]) + "\n")
    proc = wf("rules", "eval", str(labelled), "--rules", str(rules_dir), "--lines-from", str(headlines),
              "--split", "test", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["examples"] == 4  # the tune line is left out
    assert out["categories"]["airstrike"]["support"] == 3 and out["categories"]["airstrike"]["tp"] == 0
    assert out["categories"]["diplomacy"]["tp"] == 1
    assert {lang: v["examples"] for lang, v in out["languages"].items()} == {"en": 2, "uk": 1, "ru": 1}
    miss = {m["line"]: m["title"] for m in out["misclassified"]}
    assert miss[2] == "Shelling of Kherson - Wire" and miss[4].startswith("Удар по Києву")

    proc = wf("rules", "eval", str(labelled), "--rules", str(rules_dir), "--lines-from", str(headlines))
    assert proc.returncode == 0 and "5 examples" in proc.stdout and "\nuk: 1 examples" in proc.stdout

    proc = wf("rules", "eval", str(labelled), "--rules", str(rules_dir), "--lines-from", str(headlines), "--split", "held-out")
    assert proc.returncode == 2 and 'has "split": "held-out"' in proc.stderr  # a mistyped split is not a table of zeros

    proc = wf("rules", "eval", str(labelled), "--rules", str(rules_dir))  # the headlines file is needed
    assert proc.returncode == 2 and f"{labelled}:1: `line` 1 refers to a headlines file" in proc.stderr
    labelled.write_text(json.dumps({"line": 99, "labels": []}) + "\n")
    proc = wf("rules", "eval", str(labelled), "--rules", str(rules_dir), "--lines-from", str(headlines))
    assert proc.returncode == 2 and f"{labelled}:1: `line` 99 is not a headline of {headlines}" in proc.stderr


def test_shipped_packs_meet_the_targets_on_the_labelled_set():
    """Precision >= 0.9 and recall >= 0.85 for each required category (also printed by CI)."""
    proc = wf("rules", "eval", str(LABELLED), "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)["categories"]
    for cat in REQUIRED:
        assert scores[cat]["support"] >= 40, cat
        assert scores[cat]["precision"] >= 0.9, (cat, scores[cat])
        assert scores[cat]["recall"] >= 0.85, (cat, scores[cat])


UKRU = ROOT / "tests" / "data" / "labelled_ukru.jsonl"
REAL = ROOT / "tests" / "data" / "real_labelled.jsonl"
# Held-out F1 of the shipped packs (docs/rules.md; Ukrainian and Russian as of 2026-12-06), less
# 0.05: a pack change that loses more than that on headlines it was not tuned on fails here (the
# goals are higher).
HELD_OUT_FLOOR = {
    "uk": {"airstrike": 0.848, "sabotage": 0.947, "diplomacy": 0.933, "maritime_espionage": 0.842, "espionage": 0.889,
           "nuclear_safety": 1.0, "military_aid": 0.857, "war_crimes": 1.0, "prisoner_exchange": 0.833},
    "ru": {"airstrike": 0.846, "sabotage": 0.846, "diplomacy": 0.889, "maritime_espionage": 0.917, "espionage": 0.842,
           "nuclear_safety": 1.0, "military_aid": 0.857, "war_crimes": 1.0, "prisoner_exchange": 0.857},
    "en": {"airstrike": 0.947, "diplomacy": 0.802, "espionage": 0.615, "military_aid": 0.833, "war_crimes": 0.571,
           "prisoner_exchange": 0.923},  # categories with 18+ held-out real lines
}


def test_shipped_packs_hold_their_held_out_figures_in_each_language():
    proc = wf("rules", "eval", str(UKRU), "--split", "test", "--json")
    assert proc.returncode == 0, proc.stderr
    languages = json.loads(proc.stdout)["languages"]
    assert set(languages) == {"uk", "ru"} and all(v["examples"] > 100 for v in languages.values())
    scores = {lang: {c: s["f1"] for c, s in v["categories"].items()} for lang, v in languages.items()}
    if SHARED_HEADLINES.exists():
        proc = wf("rules", "eval", str(REAL), "--lines-from", str(SHARED_HEADLINES), "--split", "test", "--json")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["examples"] == 9342  # every line after 17,500 (2025-11-05 on)
        scores["en"] = {c: s["f1"] for c, s in out["categories"].items()}
    for lang, floors in HELD_OUT_FLOOR.items():
        if lang not in scores:
            continue
        low = {c: round(scores[lang][c], 3) for c, floor in floors.items() if scores[lang][c] < floor - 0.05}
        assert not low, f"{lang}: held-out F1 fell more than 0.05 below today's: {low}"
