"""Fetching one feed politely and defensively: conditional GET, timeouts, retries, size cap."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

from ingest.feeds import Feed

USER_AGENT = "Watchfloor/0.1 (+https://github.com/watchfloor; feed poller)"
MAX_INLINE_WAIT = 30.0  # a longer Retry-After ends this poll; the poller waits it out instead
MAX_REDIRECTS = 5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


@dataclass
class Validators:
    """What the server told us last time, sent back so an unchanged feed costs a 304."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FetchResult:
    status: int  # HTTP status; 200 for file: URLs
    body: bytes | None  # None on 304 Not Modified
    content_type: str | None
    validators: Validators
    attempts: int


class FetchError(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter, so many failing feeds do not retry in lockstep."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"},
        timeout=httpx.Timeout(15.0, connect=5.0),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        max_redirects=MAX_REDIRECTS,
    )


async def fetch(
    client: httpx.AsyncClient, feed: Feed, validators: Validators | None = None, slots: asyncio.Semaphore | None = None
) -> FetchResult:
    """Returns the body (or a 304); raises FetchError with a reason a human can act on.

    `slots` bounds concurrent requests; a slot is held for one attempt only, never across the
    backoff between attempts, so failing feeds cannot starve the healthy ones.
    """
    if feed.url.startswith("file:"):
        return await _fetch_file(feed)
    validators = validators or Validators()
    attempt = 0
    while True:
        try:
            async with slots or contextlib.nullcontext():
                result = await _get_once(client, feed, validators)
            result.attempts = attempt + 1
            return result
        except _Retryable as exc:
            if attempt >= feed.retries:
                raise FetchError(f"{exc.reason} (after {attempt + 1} attempts)", exc.status, exc.retry_after) from None
            delay = max(backoff(attempt), exc.retry_after or 0.0)
            if delay > MAX_INLINE_WAIT:
                raise FetchError(f"{exc.reason}; server asks to retry after {delay:.0f}s", exc.status, delay) from None
            await asyncio.sleep(delay)
            attempt += 1


async def _get_once(client: httpx.AsyncClient, feed: Feed, validators: Validators) -> FetchResult:
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    try:
        async with asyncio.timeout(feed.timeout):
            request = client.build_request("GET", feed.url, headers=headers)
            response = await client.send(request, stream=True, follow_redirects=True)
            try:
                status = response.status_code
                if status in (429, 503) or status >= 500:
                    raise _Retryable(f"HTTP {status}", status, parse_retry_after(response.headers.get("Retry-After")))
                if status == 304:
                    return FetchResult(304, None, None, validators, 1)
                if status >= 400:
                    raise FetchError(f"HTTP {status}", status)
                body = await _read_capped(response, feed.max_bytes)
            finally:
                await response.aclose()
    except TimeoutError:
        # No measured duration in the reason: it would differ on every poll, and the poller logs a
        # feed's failure again only when its reason changes.
        raise _Retryable(f"timed out: no complete response within {feed.timeout:g}s") from None
    except httpx.TooManyRedirects:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
    except httpx.TransportError as exc:
        raise _Retryable(f"network error: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    new_validators = Validators(
        etag=response.headers.get("ETag") or None,
        last_modified=response.headers.get("Last-Modified") or None,
    )
    return FetchResult(status, body, response.headers.get("Content-Type"), new_validators, 1)


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FetchError(f"body of {int(declared)} bytes exceeds the {limit}-byte cap", response.status_code)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"body exceeds the {limit}-byte cap", response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


async def _fetch_file(feed: Feed) -> FetchResult:
    path = Path(feed.url[5:])
    try:
        size = path.stat().st_size
        if size > feed.max_bytes:
            raise FetchError(f"file of {size} bytes exceeds the {feed.max_bytes}-byte cap")
        body = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from None
    return FetchResult(200, body, None, Validators(), 1)
