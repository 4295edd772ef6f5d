"""Hostile feed servers while `watchfloor ingest` runs against the real broker: one that accepts
and never answers, one that resets every connection, one that streams a 50 MB body (no
Content-Length), one that declares 50 MB, and a gzip bomb that inflates to 50 MB. The healthy
feeds next to them must keep being ingested on schedule, the ingest process must stay up, and its
memory must stay bounded (the 5 MB body cap is enforced while reading, not after).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fault_helpers import GrowingFeeds, Pipeline, eventually

RSS_LIMIT_MB = 200
BIG = 50 * 1024 * 1024
RSS_HEAD = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Huge</title>'
            b"<item><guid>huge-1</guid><title>Missile strike hits Zkhugeo</title></item><!--")


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by `serve(conn)` in a thread."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.serve = serve
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass  # the client gave up: what these servers are for

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        for conn in self.held:
            conn.close()


def read_request(conn: socket.socket) -> None:
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


@pytest.fixture
def servers() -> Iterator[dict[str, RawServer]]:
    made: dict[str, RawServer] = {}

    def hang(conn: socket.socket) -> None:
        made["hang"].held.append(conn)  # accepted, request never answered, never closed

    def reset(conn: socket.socket) -> None:
        read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # linger 0: an RST instead of a FIN

    def huge(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n" + RSS_HEAD)
        block = b"x" * 65536
        for _ in range(BIG // len(block)):
            conn.sendall(block)
        conn.sendall(b"--></channel></rss>")
        conn.close()

    def declared(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                     + f"Content-Length: {BIG}\r\nConnection: close\r\n\r\n".encode() + RSS_HEAD)
        block = b"x" * 65536
        for _ in range(BIG // len(block)):
            conn.sendall(block)
        conn.close()

    bomb_body = gzip.compress(RSS_HEAD + b"x" * BIG + b"--></channel></rss>", compresslevel=9)

    def bomb(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\n"
                     + f"Content-Length: {len(bomb_body)}\r\nConnection: close\r\n\r\n".encode() + bomb_body)
        conn.close()

    for name, serve in {"hang": hang, "reset": reset, "huge": huge, "declared": declared, "bomb": bomb}.items():
        made[name] = RawServer(serve)
    try:
        yield made
    finally:
        for server in made.values():
            server.close()


async def test_hanging_resetting_and_huge_feeds_do_not_hold_up_the_others_or_blow_up_memory(
        kafka, prefix, tmp_path: Path, feed_server, servers):
    feeds = GrowingFeeds(feed_server, ["good1", "good2"])
    doc_feeds = [{"id": f, "url": feeds.url(f), "source": f"Feed {f}"} for f in feeds.feed_ids]
    doc_feeds += [{"id": name, "url": server.url()} for name, server in servers.items()]
    feeds_file = tmp_path / "feeds.yaml"
    # the shipped defaults (3 retries, 5 MB cap) but a 1 s interval and a 5 s timeout (not 20 s),
    # so the hanging feed's four attempts fail within the test
    feeds_file.write_text(json.dumps({"defaults": {"interval": 1, "timeout": 5}, "feeds": doc_feeds}))
    pipe = Pipeline(kafka, prefix, tmp_path, feeds_file, None)
    await pipe.ensure_topics()
    ingest = pipe.ingest().start()
    added: dict[str, float] = {}
    landed: dict[str, float] = {}
    peak_rss = 0.0
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + 30  # covers the hanging feed's 4 attempts of 5 s and their backoff
        while loop.time() < until:
            for f in feeds.feed_ids:
                added[feeds.add(f).id] = time.monotonic()
            for _ in range(4):
                assert ingest.alive(), f"ingest exited\n{ingest.log_tail()}"
                peak_rss = max(peak_rss, ingest.rss_mb())
                await asyncio.sleep(0.25)
            now = time.monotonic()
            for key in await pipe.raw_ids():
                landed.setdefault(key, now)

        async def all_landed() -> bool:
            now = time.monotonic()
            for key in await pipe.raw_ids():
                landed.setdefault(key, now)
            return set(added) <= set(landed)

        await eventually(all_landed, 30, "every healthy feed entry on the raw topic", on_fail=ingest.log_tail)
        assert ingest.alive(), f"ingest exited\n{ingest.log_tail()}"
        peak_rss = max(peak_rss, ingest.rss_mb())
    finally:
        ingest.stop()
    late = {k: round(landed[k] - t, 1) for k, t in added.items() if landed[k] - t > 15}
    assert not late, f"healthy feed entries took more than 15 s to reach the raw topic (poll interval 1 s): {late}"
    assert peak_rss < RSS_LIMIT_MB, f"ingest RSS peaked at {peak_rss:.0f} MB"
    failures = [json.loads(line) for line in ingest.log_text().splitlines() if '"poll failed' in line]
    for name in servers:
        assert any(f["feed"] == name for f in failures), f"no failure logged for feed {name}"
    reasons = {f["feed"]: f["msg"] for f in failures}
    for name in ("huge", "declared", "bomb"):
        assert "cap" in reasons[name], reasons[name]
    assert servers["hang"].connections >= 1 and servers["huge"].connections >= 1
    raw_titles = {h["title"] for h in await pipe.values(pipe.topics.raw)}
    assert "Missile strike hits Zkhugeo" not in raw_titles, "an over-cap body was ingested"
    print(f"\npeak ingest RSS {peak_rss:.0f} MB; {len(added)} healthy entries, slowest "
          f"{max(landed[k] - t for k, t in added.items()):.1f} s; connections: "
          + ", ".join(f"{n}={s.connections}" for n, s in servers.items()))


async def test_sixteen_hanging_feeds_do_not_stall_the_healthy_ones(kafka, prefix, tmp_path: Path, feed_server, servers):
    feeds = GrowingFeeds(feed_server, ["good"])
    doc_feeds = [{"id": "good", "url": feeds.url("good"), "source": "Feed good"}]
    doc_feeds += [{"id": f"hang{i}", "url": servers["hang"].url(f"/feed{i}")} for i in range(16)]
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(json.dumps({"defaults": {"interval": 1, "timeout": 5}, "feeds": doc_feeds}))
    pipe = Pipeline(kafka, prefix, tmp_path, feeds_file, None)
    await pipe.ensure_topics()
    ingest = pipe.ingest().start()
    added: dict[str, float] = {}
    landed: dict[str, float] = {}
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + 25
        while loop.time() < until:
            added[feeds.add("good").id] = time.monotonic()
            await asyncio.sleep(1)
            now = time.monotonic()
            for key in await pipe.raw_ids():
                landed.setdefault(key, now)

        async def all_landed() -> bool:
            now = time.monotonic()
            for key in await pipe.raw_ids():
                landed.setdefault(key, now)
            return set(added) <= set(landed)

        await eventually(all_landed, 60, "every healthy feed entry on the raw topic", on_fail=ingest.log_tail)
        assert ingest.alive(), f"ingest exited\n{ingest.log_tail()}"
    finally:
        ingest.stop()
    late = {k[:8]: round(landed[k] - t, 1) for k, t in added.items() if landed[k] - t > 15}
    assert not late, f"healthy feed entries took more than 15 s to reach the raw topic (poll interval 1 s): {late}"
