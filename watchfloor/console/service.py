"""`watchfloor console`: the web console's server, its Kafka follower and its rule reloads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
import logging

import uvicorn

from rules.reload import live_rules
from watchfloor.console.live import LiveView, follow
from watchfloor.console.web import build_console
from core.settings import ConfigError, Settings

log = logging.getLogger("watchfloor.console")

DEFAULT_PORT = 8080


def console_port(settings: Settings, port: int | None = None) -> int:
    """`port`, else WATCHFLOOR_CONSOLE_PORT, else 8080; 0 disables the console in `watchfloor run`."""
    if port is not None:
        return port
    return DEFAULT_PORT if settings.console_port is None else settings.console_port


class _EmbeddedServer(uvicorn.Server):
    """uvicorn takes SIGINT/SIGTERM for itself; inside `run` or `console` the caller owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_port_free(host: str, port: int) -> None:
    """uvicorn exits the whole process when it cannot bind; say which setting to change instead."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"the console cannot listen on {host}:{port} ({exc.strerror}): "
                              "set WATCHFLOOR_CONSOLE_PORT (or --port) to a free port, or 0 to leave it out of `run`") from None


async def run_console(settings: Settings, port: int, host: str = "127.0.0.1", stop: asyncio.Event | None = None,
                      hours: int = 24) -> None:
    stop = stop or asyncio.Event()
    check_port_free(host, port)
    token = settings.console_token.get_secret_value() if settings.console_token else None
    rules = live_rules(settings)
    view = LiveView(hours)
    server = _EmbeddedServer(uvicorn.Config(build_console(settings, view, rules, token, stop), host=host, port=port,
                                           log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=3))

    async def reload_rules() -> None:
        while not stop.is_set():
            await asyncio.to_thread(rules.maybe_reload)
            try:
                await asyncio.wait_for(stop.wait(), 2)
            except TimeoutError:
                pass

    async def stop_server() -> None:
        await stop.wait()
        server.should_exit = True

    tasks = [asyncio.ensure_future(c) for c in (follow(settings, view, stop), reload_rules(), stop_server())]
    log.info("console listening", extra={"url": f"http://{host}:{port}/", "writable": bool(token)})
    try:
        await server.serve()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
