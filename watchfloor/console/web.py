"""The web console: one page, a JSON state, server-sent events, a rule test box, silences.

Read-only unless WATCHFLOOR_CONSOLE_TOKEN is set; then adding and expiring silences needs
`Authorization: Bearer <token>`. Feed text only ever reaches the page as JSON and is put into
it with textContent, never as HTML.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from alerting.silences import add_silence, expire_silence
from rules.model import parse_duration
from rules.reload import LiveRules
from watchfloor.console.basemap import map_config
from watchfloor.console.highlight import explain
from watchfloor.console.live import LiveView
from core.settings import ConfigError, Settings

log = logging.getLogger("watchfloor.console")
STATIC = Path(__file__).with_name("static")
MAX_TEXT = 2000


def build_console(settings: Settings, view: LiveView, rules: LiveRules, token: str | None,
                  closing: asyncio.Event | None = None) -> Starlette:
    """`closing` ends the event streams, so a stop does not wait for browsers to hang up."""
    closing = closing or asyncio.Event()
    basemap = map_config(settings)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=_NO_STORE)

    async def state(request: Request) -> Response:
        return JSONResponse({**view.state(), "writable": bool(token), "rules_version": rules.current.version,
                             "map": basemap}, headers=_NO_STORE)

    async def events(request: Request) -> Response:
        queue = view.subscribe()

        async def stream() -> AsyncIterator[str]:
            closed = asyncio.ensure_future(closing.wait())
            get: asyncio.Future | None = None
            try:
                yield "retry: 2000\n\n"
                while not closing.is_set():
                    get = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({get, closed}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
                    if get not in done:
                        get.cancel()
                        if not closing.is_set():
                            yield ": keep-alive\n\n"
                        continue
                    kind, item = get.result()
                    yield f"event: {kind}\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
            finally:  # a browser that hangs up cancels this mid-wait: no task may be left pending
                closed.cancel()
                if get is not None:
                    get.cancel()
                view.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def test_headline(request: Request) -> Response:
        body = await _json(request)
        title, summary = str(body.get("title", ""))[:MAX_TEXT], str(body.get("summary", ""))[:MAX_TEXT]
        if not title.strip():
            return _error(400, "type a headline to test")
        return JSONResponse({**explain(rules.current.engine, title, summary), "rules_version": rules.current.version})

    async def silence_add(request: Request) -> Response:
        if (denied := _check(request, token)) is not None:
            return denied
        body = await _json(request)
        match = [t.strip() for t in body.get("match", []) if isinstance(t, str) and t.strip()]
        rule = (body.get("rule") or "").strip() or None
        reason = str(body.get("reason", "")).strip()[:500]
        if not reason:
            return _error(400, "say why: a reason is required")
        try:
            duration = timedelta(seconds=parse_duration(str(body.get("duration", "2h"))))
            silence = await add_silence(settings, rule, match, duration, reason, "console")
        except (ValueError, ConfigError) as exc:
            return _error(400, str(exc))
        log.info("silence added from the console", extra={"silence": silence.id, "rule": rule})
        return JSONResponse(json.loads(silence.to_bytes()), status_code=201)

    async def silence_expire(request: Request) -> Response:
        if (denied := _check(request, token)) is not None:
            return denied
        try:
            silence = await expire_silence(settings, request.path_params["silence_id"])
        except ConfigError as exc:
            return _error(404, str(exc))
        return JSONResponse(json.loads(silence.to_bytes()))

    return Starlette(routes=[
        Route("/", index),
        Route("/api/state", state),
        Route("/api/events", events),
        Route("/api/test", test_headline, methods=["POST"]),
        Route("/api/silences", silence_add, methods=["POST"]),
        Route("/api/silences/{silence_id}/expire", silence_expire, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])


_NO_STORE = {"Cache-Control": "no-store"}


def _check(request: Request, token: str | None) -> Response | None:
    if not token:
        return _error(403, "the console is read-only: start it with WATCHFLOOR_CONSOLE_TOKEN set to allow changes")
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        return _error(401, "wrong or missing console token")
    return None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
