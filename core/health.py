"""`/metrics`, `/healthz` and `/readyz` for every long-running command, on one small HTTP port.

/healthz: the process is alive and its loop responsive. /readyz: every stage of the process has
said it is connected and working (503 with the names of those that have not). /metrics:
Prometheus text format from prometheus-client's default registry.
"""

from __future__ import annotations

import logging
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

log = logging.getLogger("watchfloor.health")

DEFAULT_PORTS = {"run": 9100, "ingest": 9101, "process": 9102, "notify": 9103, "alert": 9104}

_ready: dict[str, bool] = {}
_heartbeat = {"at": time.monotonic()}
_lock = threading.Lock()
STALL_AFTER = 60.0  # seconds without a heartbeat from the event loop: not healthy


def expect(*stages: str) -> None:
    """Declares the stages this process runs; /readyz waits for all of them."""
    with _lock:
        for stage in stages:
            _ready.setdefault(stage, False)


def set_ready(stage: str, ready: bool = True) -> None:
    with _lock:
        _ready[stage] = ready


def beat() -> None:
    """Called from the event loop; a stalled loop stops beating and /healthz turns 503."""
    _heartbeat["at"] = time.monotonic()


def _app(environ, start_response):  # type: ignore[no-untyped-def]
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        stalled = time.monotonic() - _heartbeat["at"] > STALL_AFTER
        status = "503 Service Unavailable" if stalled else "200 OK"
        body = b"event loop stalled\n" if stalled else b"ok\n"
    elif path == "/readyz":
        with _lock:
            waiting = sorted(s for s, ok in _ready.items() if not ok)
        status = "503 Service Unavailable" if waiting or not _ready else "200 OK"
        body = (("not ready: " + ", ".join(waiting)) if waiting else ("ready" if _ready else "starting")).encode() + b"\n"
    else:
        return _metrics(environ, start_response)
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body]


_metrics = make_wsgi_app()


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:  # probes every few seconds must not flood the logs
        pass


def serve(command: str, port: int | None = None, host: str = "0.0.0.0") -> int | None:
    """Starts the endpoint in a daemon thread; returns the port, or None if disabled or taken.

    Port: `port`, else WATCHFLOOR_METRICS_PORT, else the command's default; 0 disables it.
    A taken port is logged, not fatal: metrics must never take a stage down.
    """
    if port is None:
        from core.settings import Settings

        configured = Settings.from_env().metrics_port
        port = DEFAULT_PORTS.get(command, 9100) if configured is None else configured
    if port == 0:
        return None
    try:
        server = make_server(host, port, _app, ThreadingWSGIServer, handler_class=_Quiet)
    except OSError as exc:
        log.warning("metrics and health endpoint not started: port %s: %s", port, exc.strerror, extra={"port": port})
        return None
    threading.Thread(target=server.serve_forever, name="watchfloor-health", daemon=True).start()
    log.info("metrics and health on http://%s:%s/metrics, /healthz, /readyz", host, server.server_port,
             extra={"port": server.server_port})
    return server.server_port


async def heartbeat_loop(interval: float = 5.0) -> None:
    import asyncio

    while True:
        beat()
        await asyncio.sleep(interval)
