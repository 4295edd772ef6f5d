"""Real parts for the fault tests: feeds that grow on a real HTTP server, a real webhook receiver
behind Apprise's json://, the `watchfloor ingest|process|alert|notify` commands as subprocesses
that can be SIGKILLed and restarted, and readers that say what reached each topic.

Nothing here is mocked: the stages are the installed `watchfloor` command, the broker is a real
Kafka, the feeds are fetched over HTTP and the alerts are POSTed by Apprise. Every topic is read
with isolation_level=read_committed (core.kafka.read_to_end), as a downstream consumer must: the
outputs of an aborted (or still open) transaction never count.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingest.parse import headline_id
from tests.conftest import BIN
from tests.feeds_fixtures import rss
from core.kafka import make_consumer, read_to_end, records_to_end, topic_partitions
from core.settings import Settings
from core.topics import Topics, ensure_topics

# One category and one alert rule: every "missile" headline is its own story (titles carry a
# made-up place name, so the rare-word check keeps them apart) and alerts once, at first report.
RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match: {any: ["missile*"]}
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    group_by: story
    throttle: 1h
    notify: [ops]
"""

TAG = "ops"

# Letters that make no English suffix the story stemmer strips (s, ed, es, ing, ...), so every
# generated place name stays its own stem; a trailing "o" keeps it exactly six letters.
# Letters that no spelling of a sound folds into another (no c/k/q, w/v, x, h or y; grouping
# compares names as they sound, alerting/grouping.py `sound_key`).
_LETTERS = "abdfgjklmnprstvz"
PLACES = 16 * 15 * 15


def place(n: int) -> str:
    """A made-up, never-seen place name, unique for n < PLACES, also as grouping hears names:
    no two letters in a row alike (doubles sound single), every letter one sound."""
    assert 0 <= n < PLACES
    a, b, c = n // 225, (n // 15) % 15, n % 15
    first = a
    second = (first + 1 + b) % 16
    third = (second + 1 + c) % 16
    return "Zu" + _LETTERS[first] + _LETTERS[second] + _LETTERS[third] + "o"


# --- feeds ---------------------------------------------------------------------------------------


@dataclass
class Entry:
    feed_id: str
    guid: str
    title: str
    alerting: bool

    @property
    def id(self) -> str:
        return headline_id(self.feed_id, self.guid)


class GrowingFeeds:
    """RSS feeds on a real HTTP server; entries are added while the stages run."""

    def __init__(self, server: HTTPServer, feed_ids: Iterable[str]) -> None:
        self.server = server
        self.feed_ids = list(feed_ids)
        self.entries: dict[str, list[Entry]] = {f: [] for f in self.feed_ids}
        self.requests: Counter[str] = Counter()
        self._n = 0
        self._lock = threading.Lock()
        for feed_id in self.feed_ids:
            server.expect_request(f"/{feed_id}").respond_with_handler(self._handler(feed_id))

    def _handler(self, feed_id: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            with self._lock:
                self.requests[feed_id] += 1
                items = [{"guid": e.guid, "title": e.title, "link": f"https://{feed_id}.example/{e.guid}"}
                         for e in reversed(self.entries[feed_id])]  # newest first, as feeds do
            return Response(rss(items, title=f"Feed {feed_id}"), content_type="application/rss+xml")

        return handle

    def url(self, feed_id: str) -> str:
        return self.server.url_for(f"/{feed_id}")

    def feeds_file(self, path: Path, **defaults: object) -> Path:
        doc = {
            "defaults": {"interval": 1, "timeout": 5, "retries": 1, **defaults},
            "feeds": [{"id": f, "url": self.url(f), "source": f"Feed {f}"} for f in self.feed_ids],
        }
        path.write_text(json.dumps(doc))  # JSON is YAML
        return path

    def add(self, feed_id: str, alerting: bool = True, title: str | None = None) -> Entry:
        with self._lock:
            n = self._n
            self._n += 1
            if title is None:
                title = f"Missile strike hits {place(n)}" if alerting else f"Football final in {place(n)} tonight"
            entry = Entry(feed_id, f"{feed_id}-{n}", title, alerting)
            self.entries[feed_id].append(entry)
            return entry

    def add_round(self) -> list[Entry]:
        """One new alerting entry on every feed, and a non-alerting one on the first."""
        out = [self.add(f) for f in self.feed_ids]
        out.append(self.add(self.feed_ids[0], alerting=False))
        return out

    def follow_up(self, entry: Entry, feed_id: str) -> Entry:
        """Another feed reports an existing story with the same title: inside the story's
        throttle, it must not alert again (the story and throttle tables must have survived)."""
        return self.add(feed_id, alerting=True, title=entry.title)

    def all(self) -> list[Entry]:
        with self._lock:
            return [e for entries in self.entries.values() for e in entries]

    def expected_alert_titles(self) -> set[str]:
        return {e.title for e in self.all() if e.alerting}


async def trickle(feeds: GrowingFeeds, rounds: int, every: float = 0.5) -> None:
    for _ in range(rounds):
        feeds.add_round()
        await asyncio.sleep(every)


# --- the webhook receiver -----------------------------------------------------------------------


class Receiver:
    """The json:// endpoint Apprise POSTs to; records every payload it accepted (200)."""

    def __init__(self, server: HTTPServer, path: str = "/hook", delay: float = 0.0) -> None:
        self.server = server
        self.path = path
        self.delay = delay
        self.payloads: list[dict] = []
        self._lock = threading.Lock()
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        payload = json.loads(request.get_data())
        with self._lock:
            self.payloads.append(payload)
        if self.delay:
            time.sleep(self.delay)
        return Response("ok")

    def apprise_config(self, path: Path) -> Path:
        """An Apprise TEXT config: `tag=url`."""
        path.write_text(f"{TAG}=json://127.0.0.1:{self.server.port}{self.path}\n")
        return path

    def titles(self) -> Counter[str]:
        with self._lock:
            return Counter(p["title"].removeprefix("[HIGH] ") for p in self.payloads)


# --- the stages as subprocesses ---------------------------------------------------------------------


class Stage:
    """One `watchfloor <command>` process; restartable, its output appended to one log file."""

    command = [str(BIN / "watchfloor")]

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, env: dict[str, str] | None = None) -> "Stage":
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            log.write(f"\n===== start #{self.starts} of {self.name} at {stamp} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen([*self.command, *self.args], env=env or self.env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is flushed or committed."""
        assert self.proc is not None and self.alive(), f"{self.name} is not running:\n{self.log_tail()}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._mark("SIGKILL")

    def _mark(self, what: str) -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with open(self.log_path, "a") as log:
            log.write(f"===== {what} of {self.name} at {stamp} =====\n")

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def rss_mb(self) -> float:
        """Resident set size from /proc/PID/status (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS line")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} log ({self.log_path}) ---\n{self.log_text()[-chars:]}"


class Pipeline:
    """Ingest, process, alert and notify for one topic prefix, with one feeds file, rules folder
    and Apprise config. The stages keep no local state: everything is in Kafka."""

    def __init__(self, bootstrap: str, prefix: str, tmp: Path, feeds_file: Path | None, apprise_config: Path | None) -> None:
        self.settings = Settings(bootstrap=bootstrap, topic_prefix=prefix, data_dir=tmp / "data")
        self.topics = Topics(prefix)
        self.tmp = tmp
        rules = tmp / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "rules.yaml").write_text(RULES)
        self.rules_dir = rules
        base = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
        base.update(
            WATCHFLOOR_KAFKA_BOOTSTRAP=bootstrap,
            WATCHFLOOR_TOPIC_PREFIX=prefix,
            WATCHFLOOR_RULES=str(rules),
            PATH=f"{BIN}:{base.get('PATH', '')}",
            WATCHFLOOR_METRICS_PORT="0",  # several stages at once: no fixed ports
            WATCHFLOOR_EVENT_GROUP_WAIT="1",  # an event's first alert 1 s after its first report
        )
        if apprise_config is not None:
            base["WATCHFLOOR_APPRISE_CONFIG"] = str(apprise_config)
        if feeds_file is not None:
            base["WATCHFLOOR_FEEDS"] = str(feeds_file)
        self.base_env = base
        self.stages: list[Stage] = []

    def stage(self, name: str, *args: str) -> Stage:
        stage = Stage(name, list(args), dict(self.base_env), self.tmp / f"{name}.log")
        self.stages.append(stage)
        return stage

    def ingest(self, name: str = "ingest") -> Stage:
        return self.stage(name, "ingest")

    def process(self, name: str = "process") -> Stage:
        return self.stage(name, "process")

    def alert(self, name: str = "alert") -> Stage:
        return self.stage(name, "alert")

    def notify(self, name: str = "notify") -> Stage:
        return self.stage(name, "notify")

    def all_stages(self) -> dict[str, Stage]:
        """A whole pipeline (not started): ingest + process + alert + notify."""
        return {"ingest": self.ingest(), "process": self.process(), "alert": self.alert(), "notify": self.notify()}

    async def ensure_topics(self) -> None:
        await ensure_topics(self.settings.bootstrap, self.topics.specs(["airstrike"]))

    def stop_all(self) -> None:
        for stage in self.stages:
            stage.stop()

    def logs(self) -> str:
        return "\n".join(stage.log_tail() for stage in self.stages)

    def assert_alive(self, *stages: Stage) -> None:
        dead = [s for s in (stages or self.stages) if not s.alive()]
        assert not dead, "stage(s) exited: " + ", ".join(f"{s.name} (code {s.proc.returncode})" for s in dead) + "\n" + "\n".join(s.log_tail() for s in dead)

    # --- what reached Kafka --------------------------------------------------------------------

    async def keys(self, topic: str) -> Counter[str]:
        return Counter(k.decode() for k, _ in await read_to_end(self.settings, topic) if k is not None)

    async def values(self, topic: str) -> list[dict]:
        return [json.loads(v) for _, v in await read_to_end(self.settings, topic) if v is not None]

    async def raw_ids(self) -> Counter[str]:
        return await self.keys(self.topics.raw)

    async def seen_ids(self) -> set[str]:
        return set(await self.keys(self.topics.ingest_seen))

    async def classified_ids(self) -> Counter[str]:
        return await self.keys(self.topics.classified)

    async def dedup_marked_ids(self) -> set[str]:
        """Headline ids `process` marked done: the live keys of its dedup state, the compacted
        `<prefix>.processing.seen` (key: the plain headline id; a tombstone un-marks it)."""
        marked: dict[str, bool] = {}
        for key, value in await read_to_end(self.settings, self.topics.processing_seen):
            if key is not None:
                marked[key.decode()] = value is not None
        return {k for k, live in marked.items() if live}

    async def alert_ids(self) -> Counter[str]:
        """Alert ids on `<prefix>.alerts` (committed records only), with how often each is there."""
        return await self.keys(self.topics.alerts)

    async def dead_letters(self) -> list[dict]:
        return await self.values(self.topics.processing_dead)

    async def delivered_alert_ids(self) -> set[str]:
        """Alert ids the delivery log holds (key `<alert id>:<channel hash>`)."""
        return {k.split(":", 1)[0] for k in await self.keys(self.topics.deliveries)}

    async def alert_titles_by_id(self) -> dict[str, str]:
        return {a["id"]: a["title"] for a in await self.values(self.topics.alerts)}


async def eventually(check: Callable[[], object], timeout: float, what: str, every: float = 0.5,
                     on_fail: Callable[[], str] | None = None) -> None:
    """Waits until check() (sync or async) is truthy. Generous timeouts; no timing is asserted."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            detail = on_fail() if on_fail else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{detail}")
        await asyncio.sleep(every)


async def wait_for_all(pipe: Pipeline, feeds: GrowingFeeds, receiver: Receiver, timeout: float = 90.0,
                       watch: Iterable[Stage] = ()) -> None:
    """Every feed entry classified and every expected alert received, then a pause in which a
    (wrong) extra delivery would show up. A stage of `watch` that exits fails the wait at once."""
    wanted_ids = {e.id for e in feeds.all()}
    watched = list(watch)

    async def all_classified() -> bool:
        if watched:
            pipe.assert_alive(*watched)
        return wanted_ids <= set(await pipe.classified_ids())

    def missing_alerts() -> set[str]:
        if watched:
            pipe.assert_alive(*watched)
        return feeds.expected_alert_titles() - set(receiver.titles())

    def report() -> str:
        return f"missing alerts: {sorted(missing_alerts())[:10]}\n{pipe.logs()}"

    await eventually(all_classified, timeout, "every feed entry on the classified topic", on_fail=report)
    await eventually(lambda: not missing_alerts(), timeout, "every expected alert at the receiver", on_fail=report)
    await asyncio.sleep(4)


def duplicates(counts: Counter[str]) -> dict[str, int]:
    return {k: n for k, n in counts.items() if n > 1}


async def check_exactly_once(pipe: Pipeline, feeds: GrowingFeeds, receiver: Receiver, *,
                             raw_may_repeat: set[str] = frozenset(),
                             receiver_may_repeat: set[str] = frozenset()) -> None:
    """Every feed entry on the raw topic; exactly once (strict, no allowance) on the classified
    and category topics and for each alert id on the alerts topic; every expected alert at the
    receiver once, nothing unexpected; no dead letters.

    The two `*_may_repeat` sets are the crash windows left by design, computed from what Kafka
    held at the moment of a crash: ingest is at least once on the raw topic (a headline sent but
    without its seen marker), and the notifier's delivery log can miss a send the channel took
    just before a kill. A repeat outside them is a bug."""
    entries = feeds.all()
    wanted = {e.id for e in entries}
    alerting = {e.id for e in entries if e.alerting}
    raw = await pipe.raw_ids()
    classified = await pipe.classified_ids()
    category = await pipe.keys(pipe.topics.category("airstrike"))
    alert_ids = await pipe.alert_ids()
    missing_raw = sorted(wanted - set(raw))
    assert not missing_raw, f"{len(missing_raw)} feed entries never reached the raw topic: {missing_raw[:10]}"
    assert set(duplicates(raw)) <= set(raw_may_repeat), (
        f"raw topic repeats outside the crash window: {duplicates(raw)} (window: {sorted(raw_may_repeat)})")
    missing_classified = sorted(wanted - set(classified))
    assert not missing_classified, (
        f"{len(missing_classified)} headlines never reached the classified topic: {missing_classified[:10]}")
    assert not duplicates(classified), f"classified topic holds a headline more than once: {duplicates(classified)}"
    assert set(classified) <= set(raw), f"classified headlines never ingested: {sorted(set(classified) - set(raw))[:10]}"
    assert set(category) == alerting, (
        f"category.airstrike: missing {sorted(alerting - set(category))[:10]}, extra {sorted(set(category) - alerting)[:10]}")
    assert not duplicates(category), f"category topic holds a headline more than once: {duplicates(category)}"
    assert not duplicates(alert_ids), f"alerts topic holds an alert id more than once: {duplicates(alert_ids)}"
    titles = await pipe.alert_titles_by_id()
    on_topic = Counter(titles.values())
    assert set(on_topic) == feeds.expected_alert_titles(), (
        f"alerts topic: missing {sorted(feeds.expected_alert_titles() - set(on_topic))[:10]}, "
        f"extra {sorted(set(on_topic) - feeds.expected_alert_titles())[:10]}")
    assert not duplicates(on_topic), f"one story alerted twice on the alerts topic: {duplicates(on_topic)}"
    got = receiver.titles()
    expected = feeds.expected_alert_titles()
    assert expected <= set(got), f"alerts never delivered: {sorted(expected - set(got))}"
    assert set(got) <= expected, f"unexpected alerts: {sorted(set(got) - expected)}"
    twice = duplicates(got)
    assert set(twice) <= set(receiver_may_repeat), (
        f"alerts delivered more than once: {twice} (notifier crash window: {sorted(receiver_may_repeat)})")
    dead = await pipe.dead_letters()
    assert not dead, f"{len(dead)} dead letters, first: {dead[0]}"


# --- consumer groups and partition ownership ---------------------------------------------------------


async def group_members(pipe: Pipeline, group: str) -> int:
    """Members of a consumer group once it is stable (0 while it rebalances or has no coordinator)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_consumer_groups([group])
    except KafkaError:
        return 0
    finally:
        await admin.close()
    # DescribeGroups: groups[i] = (error_code, group_id, state, protocol_type, protocol, members, ...)
    state, members = described.groups[0][2], described.groups[0][5]
    return len(members) if state == "Stable" else 0


async def committed_offsets(pipe: Pipeline, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on `topic` ({} before any commit)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:
        return {}
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in sorted(offsets.items()) if tp.topic == topic and meta.offset >= 0}


def assigned_partitions(stage: Stage) -> list[int] | None:
    """The partitions a transactional stage says it holds in its last "partitions assigned" log
    line since its last start (None if it has logged none)."""
    text = stage.log_text()
    text = text[text.rfind("===== start #"):]
    last = None
    for line in text.splitlines():
        if '"partitions assigned"' in line:
            try:
                last = json.loads(line).get("partitions")
            except ValueError:
                continue
    return last


async def keys_read_uncommitted(pipe: Pipeline, topic: str) -> Counter[str]:
    """The keys a read_uncommitted reader would see: with the records of aborted transactions.
    Only to show that a crash did leave aborted outputs behind, which read_committed hides."""
    consumer = make_consumer(pipe.settings, group_id=None, isolation_level="read_uncommitted")
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in await topic_partitions(pipe.settings, consumer, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return Counter([r.key.decode() async for r in records_to_end(consumer, tps) if r.key is not None])
    finally:
        await consumer.stop()


async def aborted_records(pipe: Pipeline, topic: str) -> int:
    """Records on `topic` that only a read_uncommitted reader sees: outputs of aborted transactions."""
    return sum((await keys_read_uncommitted(pipe, topic)).values()) - sum((await pipe.keys(topic)).values())
