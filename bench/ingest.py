"""Ingest rate: entries/s into Kafka from a local HTTP server with 200 feeds of 50 entries.

Baseline, measured in the same run: a plain sequential httpx + feedparser loop (fetch and
parse only, no Kafka). Run: `.venv/bin/python bench/ingest.py` (starts its own broker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import feedparser
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.service import run_ingest  # noqa: E402
from tests.feeds_fixtures import rss  # noqa: E402
from core.broker import EmbeddedBroker, free_port  # noqa: E402
from core.settings import Settings  # noqa: E402

FEEDS, ENTRIES = 200, 50


def make_site(root: Path, run_id: str) -> None:
    for f in range(FEEDS):
        items = [
            {"guid": f"{run_id}-{f}-{i}", "title": f"Feed {f}: missile strike report number {i} on the eastern front",
             "link": f"https://site{f}.example/{i}", "summary": "<p>Officials said <b>several</b> people were hurt &amp; homes damaged.</p>",
             "date": "Thu, 20 Nov 2025 10:00:00 +0200"}
            for i in range(ENTRIES)
        ]
        (root / f"feed{f}.xml").write_bytes(rss(items, title=f"Site {f}"))


SERVER = """
import http.server, sys, time
delay = float(sys.argv[3])
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay)  # a remote server's round trip
        super().do_GET()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), lambda *a: H(*a, directory=sys.argv[2])).serve_forever()
"""


def baseline(base_url: str) -> float:
    started = time.perf_counter()
    n = 0
    with httpx.Client() as client:
        for f in range(FEEDS):
            body = client.get(f"{base_url}/feed{f}.xml").content
            n += len(feedparser.parse(body).entries)
    assert n == FEEDS * ENTRIES
    return n / (time.perf_counter() - started)


async def watchfloor_rate(settings: Settings, feeds_file: Path) -> float:
    started = time.perf_counter()
    results = await run_ingest(settings, feeds_file, once=True)
    elapsed = time.perf_counter() - started
    new = sum(r.new for r in results)
    assert new == FEEDS * ENTRIES, new
    return new / elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        site = root / "site"
        site.mkdir()
        broker = EmbeddedBroker(root / "kafka", port=0)
        broker.start()
        try:
            for delay in (0.0, 0.05):
                port = free_port()
                server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(site), str(delay)])
                time.sleep(0.5)
                try:
                    bench_rounds(root, site, broker, f"http://127.0.0.1:{port}", delay)
                finally:
                    server.terminate()
        finally:
            broker.stop()


def bench_rounds(root: Path, site: Path, broker: EmbeddedBroker, base: str, delay: float) -> None:
    rows = []
    for round_no in range(2):
        run_id = uuid.uuid4().hex[:8]
        make_site(site, run_id)
        feeds_file = root / "feeds.yaml"
        feeds_file.write_text(json.dumps({"defaults": {"retries": 1, "timeout": 30},
                                          "feeds": [{"id": f"f{f}", "url": f"{base}/feed{f}.xml"} for f in range(FEEDS)]}))
        settings = Settings(bootstrap=broker.bootstrap, topic_prefix=f"bench{run_id}", data_dir=root)
        base_rate = baseline(base)
        wf_rate = asyncio.run(watchfloor_rate(settings, feeds_file))
        rows.append((base_rate, wf_rate))
        print(f"server delay {delay * 1000:.0f} ms, round {round_no + 1}: baseline sequential fetch+parse {base_rate:8.0f} entries/s | "
              f"watchfloor ingest --once into Kafka {wf_rate:8.0f} entries/s | ratio {wf_rate / base_rate:.2f}x")
    best_base = max(r[0] for r in rows)
    best_wf = max(r[1] for r in rows)
    print(json.dumps({"server_delay_ms": delay * 1000, "feeds": FEEDS, "entries_per_feed": ENTRIES, "cores": os.cpu_count(),
                      "baseline_entries_per_s": round(best_base), "watchfloor_entries_per_s": round(best_wf),
                      "ratio": round(best_wf / best_base, 2)}))


if __name__ == "__main__":
    main()
