"""Polls every feed concurrently on its own schedule; one bad feed never stops the others."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from ingest.feeds import Feed
from ingest.fetch import FetchError, Validators, fetch, new_client
from ingest.parse import UnreadableFeed, parse_feed
from ingest.publish import HeadlinePublisher
from ingest.seen import SeenIds
from core.metrics import FEEDS_POLLED, HEADLINES_INGESTED

log = logging.getLogger("watchfloor.ingest")

MAX_BACKOFF_INTERVAL = 3600.0
REMIND_EVERY = 1800.0  # seconds between reminders that a feed still has the same problem


@dataclass
class PollResult:
    feed_id: str
    status: str  # "ok", "not-modified", "failed", "unreadable"
    new: int = 0
    entries: int = 0
    duration: float = 0.0
    error: str | None = None
    warning: str | None = None
    retry_after: float | None = None


@dataclass
class _FeedState:
    validators: Validators = field(default_factory=Validators)
    failures: int = 0
    problem: str | None = None  # the failure or warning last logged, until a clean poll
    problem_polls: int = 0  # polls in a row with a problem
    said_at: float = 0.0  # monotonic time the problem was last logged at warning level


class Poller:
    def __init__(
        self,
        feeds: list[Feed],
        publisher: HeadlinePublisher,
        seen: SeenIds,
        concurrency: int = 64,
        client: httpx.AsyncClient | None = None,
        remind_every: float = REMIND_EVERY,
    ) -> None:
        self.feeds = feeds
        self.remind_every = remind_every
        self.publisher = publisher
        self.seen = seen
        self._limit = asyncio.Semaphore(concurrency)
        self._client = client
        self._state: dict[str, _FeedState] = {f.id: _FeedState() for f in feeds}

    async def __aenter__(self) -> "Poller":
        if self._client is None:
            self._client = new_client()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def poll(self, feed: Feed) -> PollResult:
        """One fetch-parse-publish of one feed, logged as one line."""
        state = self._state[feed.id]
        started = time.monotonic()
        result = await self._poll(feed, state)
        result.duration = time.monotonic() - started
        state.failures = state.failures + 1 if result.status in ("failed", "unreadable") else 0
        FEEDS_POLLED.labels(feed.id, result.status).inc()
        if result.new:
            HEADLINES_INGESTED.labels(feed.id).inc(result.new)
        self._log(state, result)
        return result

    def _log(self, state: _FeedState, result: PollResult) -> None:
        """One line per poll, but a problem is a warning only when new, changed, or every `remind_every`:
        a feed that stays broken must not repeat itself every interval. Repeats go to debug."""
        extra = {"feed": result.feed_id, "status": result.status, "new": result.new, "entries": result.entries,
                 "duration_ms": round(result.duration * 1000)}
        problem = result.error or result.warning
        if problem is None:
            if state.problem is not None:
                log.info("feed recovered after %d poll(s) with a problem; the last was: %s", state.problem_polls,
                         state.problem, extra=extra)
            else:
                log.info("polled", extra=extra)
            state.problem, state.problem_polls = None, 0
            return
        state.problem_polls += 1
        fmt = "poll failed: %s" if result.error else "poll: %s"
        now = time.monotonic()
        if problem != state.problem:
            log.warning(fmt, problem, extra=extra)
            state.said_at = now
        elif now - state.said_at >= self.remind_every:
            log.warning(fmt + " (still, %d polls in a row)", problem, state.problem_polls, extra={**extra, "polls": state.problem_polls})
            state.said_at = now
        else:
            log.debug(fmt, problem, extra={**extra, "polls": state.problem_polls})
        state.problem = problem

    async def _poll(self, feed: Feed, state: _FeedState) -> PollResult:
        fetched_at = datetime.now(timezone.utc)
        try:
            assert self._client is not None, "use Poller as an async context manager"
            fetched = await fetch(self._client, feed, state.validators, self._limit)
        except FetchError as exc:
            return PollResult(feed.id, "failed", error=exc.reason, retry_after=exc.retry_after)
        if fetched.body is None:
            return PollResult(feed.id, "not-modified")
        try:
            parsed = await asyncio.to_thread(parse_feed, fetched.body, feed, fetched_at, fetched.content_type)
        except UnreadableFeed as exc:
            return PollResult(feed.id, "unreadable", error=str(exc))
        # Ids include the feed id and one feed is never polled twice at once, so no lock is needed here.
        new = [h for h in parsed.headlines if h.id not in self.seen]
        try:
            await self.publisher.publish(new)
        except Exception as exc:  # broker down or timing out: keep validators, retry next poll
            return PollResult(feed.id, "failed", entries=len(parsed.headlines), error=f"publishing to Kafka failed: {exc!r}")
        self.seen.add([h.id for h in new])
        # Only now that Kafka holds the entries may the next poll skip them with a 304.
        state.validators = fetched.validators
        return PollResult(feed.id, "ok", new=len(new), entries=len(parsed.headlines), warning=parsed.warning)

    async def run_once(self) -> list[PollResult]:
        return list(await asyncio.gather(*(self.poll(f) for f in self.feeds)))

    async def run_forever(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._loop(f, stop), name=f"feed:{f.id}") for f in self.feeds]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, feed: Feed, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.uniform(0, min(2.0, feed.interval)))
        while not stop.is_set():
            try:
                result = await self.poll(feed)
            except Exception:  # a bug on one feed's data must not end its polling for good
                log.exception("unexpected error polling feed", extra={"feed": feed.id})
                result = PollResult(feed.id, "failed")
                self._state[feed.id].failures += 1
            await asyncio.sleep(self.next_delay(feed, result))

    def next_delay(self, feed: Feed, result: PollResult) -> float:
        """The feed's interval with ±10% jitter, backing off while it fails, never before Retry-After."""
        failures = self._state[feed.id].failures
        base = feed.interval if failures == 0 else min(feed.interval * 2**failures, max(feed.interval, MAX_BACKOFF_INTERVAL))
        delay = base * random.uniform(0.9, 1.1)
        return max(delay, result.retry_after or 0.0)
