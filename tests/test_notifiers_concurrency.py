"""A slow channel is sent many alerts at once: the notifier's concurrency (32 alerts in flight) is
not capped by a thread pool sized for the machine's cores (Apprise's own pool: cpu count + 4, so
6 sends at once on a 2-core machine, which would hold a Slack webhook of 300 ms to 20 alerts/s)."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apprise import NotifyFormat, NotifyType

from notifiers.channels import Channels
from notifiers.format import Message

AT_ONCE = 16


def test_sixteen_sends_to_one_slow_channel_are_in_flight_together(tmp_path) -> None:
    together = threading.Barrier(AT_ONCE, timeout=15)

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                together.wait()  # answers only once AT_ONCE requests are being handled at the same time
                self.send_response(200)
            except threading.BrokenBarrierError:
                self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "apprise.txt"
        config.write_text(f"ops=json://127.0.0.1:{server.server_address[1]}/\n")
        (channel,) = Channels.load(config).for_tag("ops")
        message = Message(title="[HIGH] Strike", body="Missile strike", body_format=NotifyFormat.TEXT,
                          notify_type=NotifyType.FAILURE)

        async def all_at_once() -> list:
            return await asyncio.gather(*(channel.send(message, timeout=30) for _ in range(AT_ONCE)))

        outcomes = asyncio.run(all_at_once())
    finally:
        server.shutdown()
    assert all(o.ok for o in outcomes), [o.reason for o in outcomes if not o.ok]
