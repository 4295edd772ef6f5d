"""Ingest against a real HTTP server and the real Kafka broker: what lands on the raw topic."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from ingest.service import run_ingest
from tests.feeds_fixtures import atom, items, rss
from core.contracts import RawHeadline
from core.kafka import read_to_end
from core.settings import ConfigError, Settings
from core.topics import Topics


def write_feeds(tmp_path: Path, feeds: list[dict], **defaults: object) -> Path:
    path = tmp_path / "feeds.yaml"
    doc = {"defaults": {"interval": 60, "timeout": 5, "retries": 2, **defaults}, "feeds": feeds}
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


async def raw_headlines(settings: Settings) -> list[RawHeadline]:
    records = await read_to_end(settings, Topics(settings.topic_prefix).raw)
    return [RawHeadline.from_bytes(value) for _, value in records]


async def test_rss_and_atom_entries_land_once_and_a_second_run_adds_none(settings, feed_server, tmp_path):
    feed_server.expect_request("/rss").respond_with_data(rss(items(3, "rss")), content_type="application/rss+xml")
    feed_server.expect_request("/atom").respond_with_data(
        atom([{"id": "urn:a:1", "title": "Yantar &lt;i&gt;lasers&lt;/i&gt; RAF pilots", "link": "https://atom.example/1",
               "updated": "2025-11-20T09:30:00+01:00", "summary": "&lt;p&gt;UK warns &amp;amp; responds&lt;/p&gt;"}]),
        content_type="application/atom+xml",
    )
    path = write_feeds(tmp_path, [
        {"id": "wire", "url": feed_server.url_for("/rss"), "source": "Test Wire"},
        {"id": "desk", "url": feed_server.url_for("/atom")},
    ])
    results = await run_ingest(settings, path, once=True)
    assert {r.feed_id: (r.status, r.new) for r in results} == {"wire": ("ok", 3), "desk": ("ok", 1)}

    landed = await raw_headlines(settings)
    assert sorted(h.title for h in landed) == sorted(["rss headline 0", "rss headline 1", "rss headline 2", "Yantar lasers RAF pilots"])
    yantar = next(h for h in landed if h.feed_id == "desk")
    assert yantar.summary == "UK warns & responds"
    assert yantar.source == "Atom Desk"
    assert yantar.link == "https://atom.example/1"
    assert yantar.published.isoformat() == "2025-11-20T08:30:00+00:00"
    wire = [h for h in landed if h.feed_id == "wire"]
    assert {h.source for h in wire} == {"Test Wire"} and {h.language for h in wire} == {"en"}
    assert len({h.id for h in landed}) == 4

    again = await run_ingest(settings, path, once=True)
    assert sum(r.new for r in again) == 0
    assert len(await raw_headlines(settings)) == 4


async def test_the_message_key_is_the_headline_id(settings, feed_server, tmp_path):
    feed_server.expect_request("/rss").respond_with_data(rss(items(2)))
    await run_ingest(settings, write_feeds(tmp_path, [{"id": "w", "url": feed_server.url_for("/rss")}]), once=True)
    records = await read_to_end(settings, Topics(settings.topic_prefix).raw)
    assert [k.decode() for k, v in records] == [json.loads(v)["id"] for k, v in records]


async def test_broken_feeds_never_stop_the_others(settings, feed_server, tmp_path):
    bozo = rss(items(2, "bozo")).replace(b"</channel></rss>", b"<item><title>cut off")  # truncated: bozo but readable
    feed_server.expect_request("/bozo").respond_with_data(bozo)
    feed_server.expect_request("/missing").respond_with_data("not here", status=404)
    feed_server.expect_request("/html").respond_with_data("<html><body>Login page</body></html>", content_type="text/html")
    feed_server.expect_request("/good").respond_with_data(rss(items(2, "good")))
    path = write_feeds(tmp_path, [
        {"id": "bozo", "url": feed_server.url_for("/bozo")},
        {"id": "missing", "url": feed_server.url_for("/missing")},
        {"id": "html", "url": feed_server.url_for("/html")},
        {"id": "good", "url": feed_server.url_for("/good")},
    ])
    results = {r.feed_id: r for r in await run_ingest(settings, path, once=True)}
    assert results["bozo"].status == "ok" and results["bozo"].warning and results["bozo"].new >= 2
    assert results["missing"].status == "failed" and "404" in results["missing"].error
    assert results["html"].status == "unreadable"
    assert results["good"].new == 2
    titles = {h.title for h in await raw_headlines(settings)}
    assert {"good headline 0", "good headline 1", "bozo headline 0", "bozo headline 1"} <= titles


async def test_a_500_then_200_is_retried_within_the_poll(settings, feed_server, tmp_path):
    calls = []

    def flaky(request: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response("overloaded", status=500)
        return Response(rss(items(1, "flaky")), content_type="application/rss+xml")

    feed_server.expect_request("/flaky").respond_with_handler(flaky)
    results = await run_ingest(settings, write_feeds(tmp_path, [{"id": "flaky", "url": feed_server.url_for("/flaky")}]), once=True)
    assert results[0].status == "ok" and results[0].new == 1
    assert len(calls) == 2


async def test_retry_after_on_429_is_honoured(settings, feed_server, tmp_path):
    calls = []

    def limited(request: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "2"})
        return Response(rss(items(1, "limited")))

    feed_server.expect_request("/limited").respond_with_handler(limited)
    results = await run_ingest(settings, write_feeds(tmp_path, [{"id": "l", "url": feed_server.url_for("/limited")}]), once=True)
    assert results[0].new == 1
    assert calls[1] - calls[0] >= 1.9


async def test_conditional_get_sends_validators_and_accepts_304(settings, feed_server, tmp_path):
    seen_headers = []

    def conditional(request: Request) -> Response:
        seen_headers.append((request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(rss(items(2, "cond")), headers={"ETag": '"v1"', "Last-Modified": "Thu, 20 Nov 2025 10:00:00 GMT"})

    feed_server.expect_request("/cond").respond_with_handler(conditional)
    from ingest.feeds import load_feeds
    from ingest.poller import Poller
    from ingest.publish import HeadlinePublisher
    from ingest.seen import SeenIds
    from core.topics import ensure_topics

    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.bootstrap, topics.specs())
    publisher = HeadlinePublisher(settings, topics)
    await publisher.start()
    try:
        feeds = load_feeds(write_feeds(tmp_path, [{"id": "c", "url": feed_server.url_for("/cond")}]))
        async with Poller(feeds, publisher, SeenIds()) as poller:
            first = await poller.poll(feeds[0])
            second = await poller.poll(feeds[0])
    finally:
        await publisher.stop()
    assert (first.status, first.new) == ("ok", 2)
    assert second.status == "not-modified"
    assert seen_headers == [(None, None), ('"v1"', "Thu, 20 Nov 2025 10:00:00 GMT")]


async def test_oversized_and_slow_feeds_fail_alone(settings, feed_server, tmp_path):
    big = rss(items(1, "big")).replace(b"</channel>", b"<!--" + b"x" * 300_000 + b"--></channel>")
    feed_server.expect_request("/big").respond_with_data(big)
    feed_server.expect_request("/gzbomb").respond_with_data(
        gzip.compress(big), headers={"Content-Encoding": "gzip"}, content_type="application/rss+xml"
    )

    def slow(request: Request) -> Response:
        time.sleep(3)
        return Response(rss(items(1, "slow")))

    feed_server.expect_request("/slow").respond_with_handler(slow)
    feed_server.expect_request("/ok").respond_with_data(rss(items(1, "fine")))
    path = write_feeds(tmp_path, [
        {"id": "big", "url": feed_server.url_for("/big")},
        {"id": "gzbomb", "url": feed_server.url_for("/gzbomb")},
        {"id": "slow", "url": feed_server.url_for("/slow"), "timeout": 0.5, "retries": 0},
        {"id": "ok", "url": feed_server.url_for("/ok")},
    ], max_bytes=100_000)
    started = time.monotonic()
    results = {r.feed_id: r for r in await run_ingest(settings, path, once=True)}
    assert time.monotonic() - started < 3, "the slow feed held up the poll"
    assert results["big"].status == "failed" and "cap" in results["big"].error
    assert results["gzbomb"].status == "failed" and "cap" in results["gzbomb"].error  # cap applies after decompression
    assert results["slow"].status == "failed" and "timed out" in results["slow"].error
    assert results["ok"].new == 1
    assert [h.title for h in await raw_headlines(settings)] == ["fine headline 0"]


async def test_duplicate_guids_publish_one_headline(settings, feed_server, tmp_path):
    dupes = [
        {"guid": "same", "title": "Drone attack on Odesa port", "link": "https://x.example/1"},
        {"guid": "same", "title": "Drone attack on Odesa port (updated)", "link": "https://x.example/1"},
        {"guid": "other", "title": "Different story", "link": "https://x.example/2"},
    ]
    feed_server.expect_request("/dupes").respond_with_data(rss(dupes))
    results = await run_ingest(settings, write_feeds(tmp_path, [{"id": "d", "url": feed_server.url_for("/dupes")}]), once=True)
    assert results[0].new == 2
    assert len(await raw_headlines(settings)) == 2


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("windows-1251", "Ракетний удар по Харкову"), ("iso-8859-1", "Frappe aérienne à Kharkiv"), ("koi8-r", "Удар по Херсону")],
)
async def test_non_utf8_feeds_are_decoded(settings, feed_server, tmp_path, encoding, title):
    body = rss([{"guid": "1", "title": title, "link": "https://x.example/1"}], encoding=encoding)
    feed_server.expect_request("/enc").respond_with_data(body, content_type=f"application/rss+xml; charset={encoding}")
    await run_ingest(settings, write_feeds(tmp_path, [{"id": "enc", "url": feed_server.url_for("/enc")}]), once=True)
    assert [h.title for h in await raw_headlines(settings)] == [title]


async def test_unsafe_links_and_control_characters_are_removed(settings, feed_server, tmp_path):
    evil = [{"guid": "1", "title": "Kyiv\x0b under <![CDATA[<b>attack</b>]]>", "link": "javascript:alert(1)"}]
    feed_server.expect_request("/evil").respond_with_data(rss(evil))
    await run_ingest(settings, write_feeds(tmp_path, [{"id": "e", "url": feed_server.url_for("/evil")}]), once=True)
    [h] = await raw_headlines(settings)
    assert h.title == "Kyiv under attack"
    assert h.link is None


async def test_seen_state_survives_a_restart_in_kafka_not_memory(settings, feed_server, tmp_path):
    feed_server.expect_request("/rss").respond_with_data(rss(items(5)))
    path = write_feeds(tmp_path, [{"id": "w", "url": feed_server.url_for("/rss")}])
    await run_ingest(settings, path, once=True)
    # A fresh process knows nothing but what Kafka holds; the seen ids live in <prefix>.ingest.seen.
    seen = await read_to_end(settings, Topics(settings.topic_prefix).ingest_seen)
    assert len({k for k, _ in seen}) == 5
    assert sum(r.new for r in await run_ingest(settings, path, once=True)) == 0


async def test_unreachable_broker_is_a_clear_error(tmp_path):
    from core.broker import free_port

    dead = Settings(bootstrap=f"127.0.0.1:{free_port()}", topic_prefix="x", data_dir=tmp_path)
    path = write_feeds(tmp_path, [{"id": "w", "url": "file:/nonexistent.xml"}])
    with pytest.raises(ConfigError, match="WATCHFLOOR_KAFKA_BOOTSTRAP"):
        await run_ingest(dead, path, once=True)
