"""`rules test`, `classify` and `rules eval` as an operator runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, ROOT

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
    assert out[0] == {"id": "1", "title": "Missile strike on Odesa", "summary": "x", "extra": [1],
                      "categories": [{"id": "airstrike", "severity": "high", "matched": ["missile strike*"]}]}
    assert out[1]["title"] == "Peace talks open in Geneva" and [c["id"] for c in out[1]["categories"]] == ["diplomacy"]
    assert out[2]["categories"] == []
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
    assert json.loads(out[-1]) == {"id": "199999", "title": "Missile strike on Odesa",
                                   "categories": [{"id": "airstrike", "severity": "high", "matched": ["missile strike*"]}]}


def test_rules_eval_prints_scores_and_misclassified(rules_dir, tmp_path):
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


def test_rules_eval_rejects_malformed_input(rules_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x"}\n')
    proc = wf("rules", "eval", str(bad), "--rules", str(rules_dir))
    assert proc.returncode == 2 and f"{bad}:1:" in proc.stderr


def test_shipped_packs_meet_the_targets_on_the_labelled_set():
    """Precision >= 0.9 and recall >= 0.85 for each required category (also printed by CI)."""
    proc = wf("rules", "eval", str(LABELLED), "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)["categories"]
    for cat in REQUIRED:
        assert scores[cat]["support"] >= 40, cat
        assert scores[cat]["precision"] >= 0.9, (cat, scores[cat])
        assert scores[cat]["recall"] >= 0.85, (cat, scores[cat])
