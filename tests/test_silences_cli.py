"""`watchfloor silence add --rule ID` against a real broker: an unknown alert rule is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import BIN

SHIPPED_ALERTS = "confirmed-developments, kinetic-and-hybrid, strike-wave"


def wf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "watchfloor"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_an_unknown_alert_rule_is_refused_and_nothing_is_written(cli_env):
    proc = wf(cli_env, "silence", "add", "--rule", "no-such-rule", "--reason", "x")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: unknown alert rule 'no-such-rule'; known: {SHIPPED_ALERTS}"]

    proc = wf(cli_env, "silence", "add", "--rule", "strike-wave", "--reason", "drill", "--for", "30m")
    assert proc.returncode == 0, proc.stderr
    silence_id = proc.stdout.split()[1]
    listed = wf(cli_env, "silence", "list").stdout.splitlines()
    assert len(listed) == 1 and listed[0].startswith(silence_id) and "rule=strike-wave" in listed[0]


def test_the_known_rules_come_from_WATCHFLOOR_RULES(cli_env, tmp_path: Path):
    (tmp_path / "r.yaml").write_text("""\
rules:
  - id: sabotage
    title: Sabotage
    match: {any: ["sabotage*"]}
alerts:
  - id: rail-sabotage
    when: {categories: [sabotage]}
    notify: [ops]
""")
    env = {**cli_env, "WATCHFLOOR_RULES": str(tmp_path)}
    proc = wf(env, "silence", "add", "--rule", "strike-wave", "--reason", "x")
    assert proc.returncode == 2
    assert "unknown alert rule 'strike-wave'; known: rail-sabotage" in proc.stderr
    assert wf(env, "silence", "add", "--rule", "rail-sabotage", "--reason", "x").returncode == 0
