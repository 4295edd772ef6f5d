"""Hostile feed servers while `watchfloor ingest` runs: the other feeds go on, memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from werkzeug import Request, Response

from tests.conftest import BIN
from tests.feeds_fixtures import items, rss
from core.contracts import RawHeadline
from core.kafka import read_to_end
from core.topics import Topics


class RawServer:
    """A TCP server that misbehaves below HTTP: hangs after accepting, or resets the connection."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                self.held.append(conn)  # never answers

    def close(self) -> None:
        self.stopped = True
        for c in self.held:
            c.close()
        self.sock.close()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def test_hanging_resetting_and_huge_feeds_do_not_stop_the_others(cli_env, settings, feed_server, tmp_path):
    hang, reset = RawServer("hang"), RawServer("reset")
    published = {"n": 2}

    def good(request: Request) -> Response:
        return Response(rss(items(published["n"], "good")), content_type="application/rss+xml")

    def huge(request: Request) -> Response:
        chunk = b"<!--" + b"x" * (1024 * 1024 - 7) + b"-->"

        def body():
            yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
            for _ in range(50):  # 50 MB
                yield chunk
            yield b"</channel></rss>"

        return Response(body(), content_type="application/rss+xml")

    feed_server.expect_request("/good").respond_with_handler(good)
    feed_server.expect_request("/huge").respond_with_handler(huge)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(json.dumps({"defaults": {"interval": 1, "timeout": 3, "retries": 0}, "feeds": [
        {"id": "good", "url": feed_server.url_for("/good")},
        {"id": "hang", "url": f"http://127.0.0.1:{hang.port}/rss"},
        {"id": "reset", "url": f"http://127.0.0.1:{reset.port}/rss"},
        {"id": "huge", "url": feed_server.url_for("/huge")},
    ]}))
    log = open(tmp_path / "ingest.log", "w")
    proc = subprocess.Popen([str(BIN / "watchfloor"), "ingest", "--feeds", str(feeds)], env=cli_env, stdout=log, stderr=subprocess.STDOUT)
    topic = Topics(settings.topic_prefix).raw
    peak = 0
    try:
        async def good_titles() -> set[str]:
            return {RawHeadline.from_bytes(v).title for _, v in await read_to_end(settings, topic)}

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(await good_titles()) < 2:
            peak = max(peak, rss_kb(proc.pid))
            await asyncio.sleep(0.5)
        assert await good_titles() == {"good headline 0", "good headline 1"}
        published["n"] = 5  # new entries while the bad feeds keep failing
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(await good_titles()) < 5:
            peak = max(peak, rss_kb(proc.pid))
            await asyncio.sleep(0.5)
        assert len(await good_titles()) == 5
        for _ in range(8):  # several more rounds of the huge and hanging feeds
            peak = max(peak, rss_kb(proc.pid))
            await asyncio.sleep(0.5)
        assert proc.poll() is None, "ingest died"
        assert peak < 200 * 1024, f"ingest RSS peaked at {peak // 1024} MB"
        text = (tmp_path / "ingest.log").read_text()
        for feed, reason in (("hang", "timed out"), ("reset", "network error"), ("huge", "cap")):
            assert any(f'"feed": "{feed}"' in line and reason in line for line in text.splitlines()), (feed, text[-2000:])
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
        hang.close()
        reset.close()
