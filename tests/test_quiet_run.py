"""A quiet quick start logs nothing alarming: two minutes of `watchfloor run` on the samples
with no error-level line, no traceback, and every warning said once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from core.broker import free_port

WATCHFLOOR = str(Path(sys.executable).parent / "watchfloor")
QUIET_FOR = float(os.environ.get("WATCHFLOOR_TEST_QUIET_SECONDS", "130"))


def test_two_quiet_minutes_of_the_quick_start_log_no_error_and_say_each_warning_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    env.update(WATCHFLOOR_DATA_DIR=str(tmp_path / "data"), WATCHFLOOR_CONSOLE_PORT=str(free_port()),
               WATCHFLOOR_METRICS_PORT="0", PYTHONASYNCIODEBUG="")
    log = tmp_path / "run.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([WATCHFLOOR, "run", "--fresh"], env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            time.sleep(QUIET_FOR)
            assert proc.poll() is None, log.read_text()[-3000:]
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text(errors="replace")
    records, stray = [], []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            stray.append(line)  # not our JSON logging: printed by something on its own
    assert not stray, stray[:20]
    assert "Traceback" not in text and "Task was destroyed" not in text and "never awaited" not in text
    errors = [r for r in records if r["level"] in ("error", "critical")]
    assert not errors, errors
    warnings = Counter((r["logger"], r["msg"]) for r in records if r["level"] == "warning")
    assert all(n == 1 for n in warnings.values()), warnings
    assert any("alert delivered" in r["msg"] for r in records)
