"""`watchfloor classify` on broken input: a JSON record that does not parse is an error, not a title."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import BIN, PROCESSOR_RULES


def classify(folder: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "watchfloor"), "classify", "--rules", str(folder)], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_a_broken_json_line_is_reported_with_its_number_and_the_rest_goes_on(tmp_path):
    (tmp_path / "r.yaml").write_text(PROCESSOR_RULES)
    stdin = "\n".join([
        json.dumps({"id": "1", "title": "Missile strike on Odesa"}),
        "Peace talks open in Geneva",
        '{"id": "3", "title": "Drone attack on Kyiv",}',
        "",
        '  {"id": "5", "title": "truncated',
        json.dumps({"id": "6", "title": "Drone attack on Lviv"}),
    ]) + "\n"
    proc = classify(tmp_path, stdin)
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["1", None, "6"]  # nothing from lines 3 and 5, not even as a title
    assert [c["id"] for c in out[2]["categories"]] == ["airstrike"]
    errors = proc.stderr.splitlines()
    assert errors[0].startswith("line 3: not valid JSON: Expecting property name enclosed in double quotes at column")
    assert errors[1].startswith("line 5: not valid JSON: Unterminated string")
    assert len(errors) == 3 and "2 line(s)" in errors[2]


def test_valid_input_and_plain_titles_still_exit_0(tmp_path):
    (tmp_path / "r.yaml").write_text(PROCESSOR_RULES)
    proc = classify(tmp_path, json.dumps({"title": "Peace talks"}) + "\nMissile strike on Odesa\n[1, 2]\n")
    assert proc.returncode == 0 and proc.stderr == ""
    assert [json.loads(line)["title"] for line in proc.stdout.splitlines()] == ["Peace talks", "Missile strike on Odesa", "[1, 2]"]
