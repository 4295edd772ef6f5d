"""`watchfloor rules check`: every problem, in every file, as FILE:LINE: message."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import BIN

GOOD = """\
rules:
  - id: sabotage
    title: Sabotage
    severity: high
    match:
      any: ["sabotage*", "saboteur*"]
    tests:
      match: ["Rail line sabotaged near Lublin"]
      no_match: ["Dockworkers strike"]
"""

BAD = """\
rules:
  - id: airstrike
    title: Air strikes
    severty: high
    match:
      any:
        - "missile strike*"
        - "!!!"
  - id: Bad-Id
    title: x
    match:
      any: [x]
  - id: empty
    title: e
    match:
      none: ["y"]
  - id: tested
    title: t
    match:
      any: ["drone*"]
    tests:
      match:
        - "Missile hits Kyiv"
      no_match:
        - "Drone show lights up Sydney"
  - id: sabotage
    title: again
    match: {any: [z]}
"""


def check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "watchfloor"), "rules", "check", str(folder)], capture_output=True, text=True)


def test_a_valid_folder_passes_with_a_one_line_summary(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    proc = check(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and "1 rules" in proc.stdout and "2 inline tests passed" in proc.stdout


def test_every_problem_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "a_good.yaml").write_text(GOOD)
    (tmp_path / "b_bad.yaml").write_text(BAD)
    (tmp_path / "c_syntax.yaml").write_text("rules:\n  - id: a\n    title: [unclosed\n")
    (tmp_path / "d_top.yaml").write_text("rule:\n  - id: q\n")
    proc = check(tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    bad = tmp_path / "b_bad.yaml"

    def has(prefix: str, *needles: str) -> bool:
        return any(l.startswith(prefix) and all(n in l for n in needles) for l in lines)

    assert has(f"{bad}:4:", "unknown key 'severty'", "did you mean 'severity'")
    assert has(f"{bad}:8:", "'!!!'", "never match")
    assert has(f"{bad}:9:", "Bad-Id")
    assert has(f"{bad}:15:", "empty", "'empty'")
    assert has(f"{bad}:23:", "expects a match", "Missile hits Kyiv")
    assert has(f"{bad}:25:", "expects no match", "Drone show lights up Sydney", "drone*")
    assert has(f"{bad}:26:", "duplicate rule id 'sabotage'", "a_good.yaml:2")
    assert has(f"{tmp_path / 'c_syntax.yaml'}:", "YAML syntax")
    assert has(f"{tmp_path / 'd_top.yaml'}:1:", "unknown key 'rule'", "did you mean 'rules'")
    assert "Traceback" not in proc.stderr


def test_a_quote_left_open_is_named_at_its_line_and_causes_no_second_error(tmp_path):
    """An operator's typical slip: a term's closing quote forgotten. YAML notices it a line later;
    the check names the line that opened it, and the alert rule naming the broken file's category
    is not reported as a second, false error."""
    broken = GOOD.replace('any: ["sabotage*", "saboteur*"]', 'any:\n        - "sabotage*\n        - "saboteur*"')
    (tmp_path / "sabotage.yaml").write_text(broken)
    (tmp_path / "alerts.yaml").write_text("alerts:\n  - id: hybrid\n    when: {categories: [sabotage]}\n    notify: [ops]\n")
    proc = check(tmp_path)
    assert proc.returncode == 1
    opened = broken.splitlines().index('        - "sabotage*') + 1
    assert f"(line {opened} opens a quote it does not close)" in proc.stderr, proc.stderr
    assert "sabotage.yaml:" in proc.stderr and "unknown category" not in proc.stderr, proc.stderr


def test_a_refused_category_rule_causes_no_second_error_where_alert_rules_name_it(tmp_path):
    (tmp_path / "sabotage.yaml").write_text(GOOD.replace("severity: high", "severty: high"))
    (tmp_path / "alerts.yaml").write_text("alerts:\n  - id: hybrid\n    when: {categories: [sabotage]}\n    notify: [ops]\n")
    proc = check(tmp_path)
    assert proc.returncode == 1 and "unknown key 'severty' (did you mean 'severity'?)" in proc.stderr
    assert "unknown category" not in proc.stderr and "1 problem(s)" in proc.stderr, proc.stderr


def test_missing_folder_is_an_error(tmp_path):
    proc = check(tmp_path / "nope")
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_the_shipped_packs_pass_their_own_check():
    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "check"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr


def test_alert_rules_naming_a_tag_missing_from_the_apprise_config_are_reported(tmp_path):
    import os

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(GOOD + """\
alerts:
  - id: sab
    when: {categories: [sabotage]}
    notify: [watch-officers, analysts]
""")
    apprise = tmp_path / "apprise.yaml"
    apprise.write_text("urls:\n  - json://127.0.0.1:9/hook:\n      tag: watch-officers\n")
    env = {**os.environ, "WATCHFLOOR_APPRISE_CONFIG": str(apprise)}
    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "check", str(tmp_path / "rules")], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert f"{tmp_path / 'rules' / 'r.yaml'}:13:" in proc.stderr and "'analysts'" in proc.stderr
    env.pop("WATCHFLOOR_APPRISE_CONFIG")
    assert subprocess.run([str(BIN / "watchfloor"), "rules", "check", str(tmp_path / "rules")], env=env).returncode == 0


def test_hidden_copies_are_not_read_twice(tmp_path):
    """A Kubernetes ConfigMap mount keeps each file twice: `x.yaml -> ..data/x.yaml`."""
    data = tmp_path / "..2025_11_20"
    data.mkdir()
    (data / "good.yaml").write_text(GOOD)
    (tmp_path / "..data").symlink_to(data.name)
    (tmp_path / "good.yaml").symlink_to("..data/good.yaml")
    (tmp_path / ".good.yaml.swp.yaml").write_text(GOOD)
    assert check(tmp_path).returncode == 0


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "emptied.yaml").write_text("# all rules were here\n")
    proc = check(tmp_path)
    assert proc.returncode == 1 and f"{tmp_path / 'emptied.yaml'}:1: the file is empty" in proc.stderr


USED_AND_UNUSED = """\
rules:
  - id: sabotage
    title: Sabotage
    match:
      any: ["sabotage*"]
  - id: espionage
    title: Spies
    match:
      any: ["spy*"]
alerts:
  - id: sab
    when: {categories: [sabotage]}
    notify: [watch-officers]
"""


def test_a_category_no_alert_rule_uses_is_a_warning_at_its_definition(tmp_path):
    (tmp_path / "a.yaml").write_text(USED_AND_UNUSED)
    (tmp_path / "b.yaml").write_text("# more categories\nrules:\n  - id: war_crimes\n    title: War crimes\n    match: {any: [massacre*]}\n")
    proc = check(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"{tmp_path / 'a.yaml'}:6: warning: category 'espionage' is not used by any alert rule",
        f"{tmp_path / 'b.yaml'}:3: warning: category 'war_crimes' is not used by any alert rule",
    ]
    assert proc.stdout.startswith("ok: 3 rules") and proc.stdout.rstrip().endswith("2 warning(s)")


def test_the_shipped_packs_alert_on_every_category():
    proc = subprocess.run([str(BIN / "watchfloor"), "rules", "check"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "warning" not in proc.stderr + proc.stdout, proc.stderr


FOLLOWS = """\
rules:
  - id: sabotage
    title: Sabotage
    match:
      any: ["sabotage*"]
  - id: aftermath
    title: Aftermath
    follow_up: true
    follows: [sabotage, sabotag]
    match:
      any: ["death toll*"]
  - id: talks
    title: Talks
    follows: [sabotage]
    match:
      any: ["talks"]
"""


def test_follows_names_known_categories_and_belongs_to_a_follow_up_rule(tmp_path):
    (tmp_path / "rules.yaml").write_text(FOLLOWS)
    proc = check(tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    path = tmp_path / "rules.yaml"
    assert any(l.startswith(f"{path}:9:") and "unknown category 'sabotag'" in l and "did you mean 'sabotage'" in l
               for l in lines), lines
    assert any(l.startswith(f"{path}:14:") and "for a follow-up rule" in l for l in lines), lines
    (tmp_path / "rules.yaml").write_text(FOLLOWS.replace(", sabotag]", "]").replace("    follows: [sabotage]\n    match:\n      any: [\"talks\"]",
                                                                                   "    match:\n      any: [\"talks\"]"))
    assert check(tmp_path).returncode == 0
