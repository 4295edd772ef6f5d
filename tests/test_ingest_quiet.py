"""A feed that stays broken says so once, again when its problem changes (or as a rare reminder),
and once more when it recovers: real HTTP feeds, the real broker, the ingest logger's records."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from werkzeug import Request, Response

from ingest.feeds import SAMPLE_FEEDS, Feed, load_feeds
from ingest.poller import Poller
from ingest.publish import HeadlinePublisher
from ingest.seen import SeenIds
from tests.feeds_fixtures import items, rss
from tests.test_ingest import write_feeds
from core.settings import Settings
from core.topics import Topics, ensure_topics


@contextlib.asynccontextmanager
async def poller_for(settings: Settings, feeds: list[Feed], **options: float) -> AsyncIterator[Poller]:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.bootstrap, topics.specs())
    publisher = HeadlinePublisher(settings, topics)
    await publisher.start()
    try:
        async with Poller(feeds, publisher, SeenIds(), **options) as poller:
            yield poller
    finally:
        await publisher.stop()


def scripted(feed_server, responses: list[tuple[int, bytes]]) -> None:
    """Serves /feed with the given statuses in turn, the last one from then on."""
    calls: list[int] = []

    def handler(request: Request) -> Response:
        status, body = responses[min(len(calls), len(responses) - 1)]
        calls.append(status)
        return Response(body, status=status, content_type="application/rss+xml")

    feed_server.expect_request("/feed").respond_with_handler(handler)


def said(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "watchfloor.ingest" and r.levelno == level]


async def test_identical_failures_warn_once_and_the_recovery_is_one_info_line(settings, feed_server, tmp_path, caplog):
    failures = 4
    scripted(feed_server, [(500, b"overloaded")] * failures + [(200, rss(items(2, "back")))])
    (feed,) = load_feeds(write_feeds(tmp_path, [{"id": "flaky", "url": feed_server.url_for("/feed")}], retries=0))
    caplog.set_level(logging.DEBUG, logger="watchfloor.ingest")
    async with poller_for(settings, [feed]) as poller:
        statuses = [(await poller.poll(feed)).status for _ in range(failures + 2)]
    assert statuses == ["failed"] * failures + ["ok", "ok"]
    assert said(caplog, logging.WARNING) == ["poll failed: HTTP 500 (after 1 attempts)"]
    assert said(caplog, logging.ERROR) == []
    assert said(caplog, logging.DEBUG) == ["poll failed: HTTP 500 (after 1 attempts)"] * (failures - 1)
    info = said(caplog, logging.INFO)
    assert [m for m in info if "recovered" in m] == [
        "feed recovered after 4 poll(s) with a problem; the last was: HTTP 500 (after 1 attempts)"]
    assert info[-1] == "polled"  # the poll after the recovery is an ordinary one


async def test_a_changed_failure_is_said_again_and_a_lasting_one_is_reminded(settings, feed_server, tmp_path, caplog):
    scripted(feed_server, [(500, b"down"), (500, b"down"), (404, b"gone"), (404, b"gone")])
    (feed,) = load_feeds(write_feeds(tmp_path, [{"id": "moving", "url": feed_server.url_for("/feed")}], retries=0))
    caplog.set_level(logging.INFO, logger="watchfloor.ingest")
    async with poller_for(settings, [feed], remind_every=3600) as poller:
        for _ in range(4):
            await poller.poll(feed)
    assert said(caplog, logging.WARNING) == ["poll failed: HTTP 500 (after 1 attempts)", "poll failed: HTTP 404"]
    caplog.clear()
    async with poller_for(settings, [feed], remind_every=0) as poller:  # every repeat is due a reminder
        for _ in range(2):
            await poller.poll(feed)
    assert said(caplog, logging.WARNING) == ["poll failed: HTTP 404", "poll failed: HTTP 404 (still, 2 polls in a row)"]


async def test_the_broken_sample_feed_warns_once_however_often_it_is_polled(settings, caplog):
    (broken,) = [f for f in load_feeds(SAMPLE_FEEDS) if f.id == "broken-sample"]
    caplog.set_level(logging.INFO, logger="watchfloor.ingest")
    async with poller_for(settings, [broken]) as poller:
        results = [await poller.poll(broken) for _ in range(3)]
    assert all(r.status == "ok" and r.warning for r in results)
    warnings = said(caplog, logging.WARNING)
    assert len(warnings) == 1 and warnings[0].startswith("poll: malformed feed")
