"""One event through English, Ukrainian and Russian feeds, live: `watchfloor ingest`, `process`,
`alert` and `notify` on the real broker, feeds over real HTTP, a real webhook receiver. The
officer gets exactly one alert and, when the event grows, exactly one update (here brought by a
follow-up report, "число погибших выросло до 26", which names no strike); the event's state is on
`<prefix>.events` for downstream consumers."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
from werkzeug import Request, Response

from core.broker import free_port

from core.contracts import Event
from tests.fault_helpers import Pipeline, Receiver, eventually
from tests.kafka_helpers import read_to_end
from tests.feeds_fixtures import rss

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile strike*", "ракетн* удар*"]}
  - id: aftermath
    title: Casualty counts and rescue work
    severity: info
    follow_up: true
    match: {any: ["число погибш*", "кількість загибл*", "rescuers"]}
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    throttle: 1h
    notify: [ops]
"""

FEEDS = {"wire": "en", "podillia": "uk", "interfax": "ru"}


class Feeds:
    """Three RSS feeds whose entries the test adds while the stages run."""

    def __init__(self, server) -> None:  # type: ignore[no-untyped-def]
        self.entries: dict[str, list[dict]] = {f: [] for f in FEEDS}
        self.lock = threading.Lock()
        for feed_id in FEEDS:
            server.expect_request(f"/{feed_id}").respond_with_handler(self._handler(feed_id))
        self.server = server

    def _handler(self, feed_id: str):  # type: ignore[no-untyped-def]
        def handle(request: Request) -> Response:
            with self.lock:
                items = list(reversed(self.entries[feed_id]))
            return Response(rss(items, title=feed_id), content_type="application/rss+xml")

        return handle

    def add(self, feed_id: str, guid: str, title: str, published: datetime | None = None) -> None:
        item = {"guid": guid, "title": title, "link": f"https://{feed_id}.example/{guid}"}
        if published is not None:
            item["date"] = format_datetime(published, usegmt=True)
        with self.lock:
            self.entries[feed_id].append(item)

    def file(self, path: Path) -> Path:
        doc = {"defaults": {"interval": 1, "timeout": 5, "retries": 1},
               "feeds": [{"id": f, "url": self.server.url_for(f"/{f}"), "source": f"Feed {f}", "language": lang}
                         for f, lang in FEEDS.items()]}
        path.write_text(json.dumps(doc))
        return path


async def start_pipeline(kafka: str, prefix: str, tmp_path: Path, feeds: Feeds, receiver: Receiver, *,
                         group_wait: int, metrics_port: int | None = None) -> Pipeline:
    """ingest, process, alert and notify on RULES, the three feeds and the webhook receiver."""
    pipe = Pipeline(kafka, prefix, tmp_path, feeds.file(tmp_path / "feeds.yaml"),
                    receiver.apprise_config(tmp_path / "apprise.txt"))
    (pipe.rules_dir / "rules.yaml").write_text(RULES)
    pipe.base_env.update(WATCHFLOOR_EVENT_GROUP_WAIT=str(group_wait), WATCHFLOOR_EVENT_UPDATE_INTERVAL="3")
    await pipe.ensure_topics()
    stages = pipe.all_stages()
    if metrics_port is not None:
        stages["alert"].env["WATCHFLOOR_METRICS_PORT"] = str(metrics_port)
    for stage in stages.values():
        stage.start()
    return pipe


async def test_one_event_in_three_languages_gives_one_alert_and_one_update(kafka, prefix, tmp_path, feed_server,
                                                                           hook_server):
    feeds = Feeds(feed_server)
    receiver = Receiver(hook_server)
    feeds.add("wire", "t1", "Russian missile strike on Ternopil apartment blocks kills 25")
    feeds.add("podillia", "t2", "Ракетний удар по Тернополю: загинули 25 людей, десятки поранених")
    metrics_port = free_port()
    pipe = await start_pipeline(kafka, prefix, tmp_path, feeds, receiver, group_wait=4, metrics_port=metrics_port)
    try:
        await eventually(lambda: len(receiver.payloads) >= 1, 120, "the event's first alert", on_fail=pipe.logs)
        first = receiver.payloads[0]["alert"]
        assert first["kind"] == "alert" and first["source_count"] == 2 and sorted(first["languages"]) == ["en", "uk"]
        assert first["places"][0]["name"] == "Ternopil"

        # a follow-up: no strike named, no alert rule concerned; it still joins and updates the event
        feeds.add("interfax", "t3", "Число погибших в Тернополе выросло до 26, среди них трое детей")
        await eventually(lambda: len(receiver.payloads) >= 2, 60, "the update", on_fail=pipe.logs)
        feeds.add("wire", "t4", "Missile strike on Ternopil: rescuers search rubble")  # nothing new to tell
        event_id = first["event_id"]

        async def event_has_four_reports() -> bool:
            states = [Event.model_validate(v) for v in await pipe.values(pipe.topics.events)]
            return any(e.id == event_id and e.report_count == 4 for e in states)

        await eventually(event_has_four_reports, 60, "the fourth report on the events topic", on_fail=pipe.logs)
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert 'watchfloor_follow_ups_total{result="joined"} 1.0' in metrics
        await asyncio.sleep(6)  # time for a (wrong) further message
        pipe.assert_alive()
    finally:
        pipe.stop_all()
    kinds = [p["alert"]["kind"] for p in receiver.payloads]
    assert kinds == ["alert", "update"], [p["title"] for p in receiver.payloads]
    update = receiver.payloads[1]["alert"]
    assert update["event_id"] == event_id and update["update_of"] == first["id"]
    assert receiver.payloads[1]["title"].startswith("[HIGH] Update: ")
    assert "now also reported in ru" in update["changes"] and "killed: 25 → 26" in update["changes"]
    assert sorted(link["language"] for link in update["links"]) == ["en", "ru", "uk"]
    final = [Event.model_validate(v) for v in await pipe.values(pipe.topics.events) if v["id"] == event_id][-1]
    assert final.source_count == 3 and sorted(final.languages) == ["en", "ru", "uk"] and final.alerts == [first["id"], update["id"]]


async def test_reports_polled_out_of_order_half_a_day_apart_are_merged_into_one_event_and_one_alert(
        kafka, prefix, tmp_path, feed_server, hook_server):
    """A feed polled late brings the morning's report after the evening's: more than 12 h apart,
    they open two events; a report between them shows them to be one. The officer gets one alert,
    and `<prefix>.events` keeps one event (the other deleted with a tombstone, named in `merged`)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    feeds = Feeds(feed_server)
    receiver = Receiver(hook_server)
    feeds.add("wire", "t1", "Russian missile strike on Ternopil apartment blocks kills 25", now - timedelta(minutes=5))
    feeds.add("podillia", "t2", "Ракетний удар по Тернополю: загинули 25 людей", now - timedelta(hours=12, minutes=40))
    pipe = await start_pipeline(kafka, prefix, tmp_path, feeds, receiver, group_wait=30)
    try:
        async def ids_on_events_topic() -> set[str]:
            return {v["id"] for v in await pipe.values(pipe.topics.events)}

        async def two_events() -> bool:
            return len(await ids_on_events_topic()) == 2

        await eventually(two_events, 60, "two events on the events topic", on_fail=pipe.logs)
        assert not receiver.payloads  # the group wait has not passed
        feeds.add("interfax", "t3", "Ракетный удар по Тернополю: погибли 25 человек", now - timedelta(hours=6))
        await eventually(lambda: len(receiver.payloads) >= 1, 90, "the alert", on_fail=pipe.logs)
        await asyncio.sleep(6)  # time for a (wrong) second alert
        pipe.assert_alive()
    finally:
        pipe.stop_all()
    assert [p["alert"]["kind"] for p in receiver.payloads] == ["alert"], [p["title"] for p in receiver.payloads]
    alert = receiver.payloads[0]["alert"]
    assert alert["source_count"] == 3 and sorted(alert["languages"]) == ["en", "ru", "uk"]
    latest: dict[str, bytes | None] = {}
    for key, value in await read_to_end(pipe.settings, pipe.topics.events):
        latest[key.decode()] = value
    live = {k: Event.model_validate_json(v) for k, v in latest.items() if v is not None}
    assert list(live) == [alert["event_id"]]
    gone = [k for k, v in latest.items() if v is None]
    assert len(gone) == 1 and live[alert["event_id"]].merged == gone
