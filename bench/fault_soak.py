"""The fault suite, N runs in a row, beside a CPU hog: does at-least-once hold on a starved machine?

The fault tests (kill -9 of each stage mid-stream, broker restart, a 30 s broker outage, two
workers with one killed, takeover, a fenced producer, a refused output) are run `RUNS` times in a row while
`HOGS` processes spin on the CPU (the machine has 2 cores, so one hog takes half of it). Prints
each run's outcome and time, and the same suite's time with no hog, measured first in the same
run, as the baseline.

Run: `.venv/bin/python bench/fault_soak.py [RUNS] [HOGS]` (default 5 runs, 1 hog).
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ["tests/test_faults_stages.py", "tests/test_faults_broker.py", "tests/test_outage.py"]


def spin() -> None:
    while True:
        pass


def run_suite() -> tuple[bool, float, str]:
    started = time.monotonic()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", *SUITE],
                          cwd=ROOT, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return proc.returncode == 0, time.monotonic() - started, tail


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    hogs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    ok, seconds, tail = run_suite()
    print(f"baseline, no hog: {'pass' if ok else 'FAIL'} in {seconds:.0f} s ({tail})", flush=True)
    workers = [multiprocessing.Process(target=spin, daemon=True) for _ in range(hogs)]
    for w in workers:
        w.start()
    passed = 0
    try:
        for i in range(1, runs + 1):
            ok, seconds, tail = run_suite()
            passed += ok
            print(f"run {i} beside {hogs} hog(s): {'pass' if ok else 'FAIL'} in {seconds:.0f} s ({tail})", flush=True)
    finally:
        for w in workers:
            w.terminate()
    print(f"{passed} of {runs} runs passed beside {hogs} CPU hog(s)")
    sys.exit(0 if passed == runs else 1)


if __name__ == "__main__":
    main()
