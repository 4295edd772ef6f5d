"""The notifier against real parts: the session Kafka broker, a real SMTP server (aiosmtpd) and real
HTTP receivers for Apprise's json:// plugin. Assertions are on what those servers received and
what landed on the dead-letter and delivery-log topics."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from notifiers.deliver import RetryPolicy
from notifiers.service import consumer_group, run_notifier, send_test
from tests.conftest import ROOT
from tests.kafka_helpers import wait_for_messages
from core.contracts import Alert, DeadLetter
from core.kafka import read_to_end
from core.settings import ConfigError, Settings
from core.topics import Topics, ensure_topics

FAST = RetryPolicy(base=0.05, cap=0.2, max_attempts=5, max_elapsed=30.0, attempt_timeout=10.0)
NOW = datetime(2025, 11, 20, 8, 30, tzinfo=timezone.utc)
HEADLINE = '<script>alert("pwned")</script> Strike on <!channel> fuel depot & <@U123> Odesa'


# --- real receivers ---------------------------------------------------------------------------------


class Hook:
    """A json:// endpoint on the real HTTP server: fails the first `fail_first` requests (or every
    one while `broken`), records the JSON payloads it accepted, in order."""

    def __init__(self, server: HTTPServer, path: str, fail_first: int = 0, broken: bool = False,
                 events: list[str] | None = None, delay: float = 0.0) -> None:
        self.path = path
        self.delay = delay
        self.fail_first = fail_first
        self.broken = broken
        self.requests = 0
        self.received: list[dict] = []
        self.events = events if events is not None else []
        self._lock = threading.Lock()
        self.port = server.port
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        time.sleep(self.delay)
        with self._lock:
            self.requests += 1
            if self.broken or self.requests <= self.fail_first:
                self.events.append(f"{self.path} 500")
                return Response("down", status=500)
            self.received.append(json.loads(request.get_data()))
            self.events.append(f"{self.path} 200")
            return Response("ok")

    def url(self, auth: str = "") -> str:
        return f"json://{auth}127.0.0.1:{self.port}{self.path}"


class Inbox:
    """aiosmtpd handler: every message the SMTP server accepted, and the logins it saw."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001 - aiosmtpd's hook signature
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"Pa55word")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver(hook_server: HTTPServer) -> HTTPServer:
    return hook_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_url(port: int, password: str = "Pa55word") -> str:
    return (f"mailto://user:{password}@127.0.0.1:{port}?smtp=127.0.0.1&mode=insecure"
            "&from=watchfloor@example.com&to=desk@example.com")


def write_config(tmp_path: Path, entries: list[tuple[str, str]]) -> Path:
    """An Apprise YAML config: (url, tags) entries."""
    lines = ["urls:"]
    for url, tags in entries:
        lines += [f'  - "{url}":', f"      tag: {tags}"]
    path = tmp_path / "apprise.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- Kafka helpers -------------------------------------------------------------------------------


def make_alert(alert_id: str, notify: list[str], **overrides: object) -> Alert:
    fields: dict[str, object] = dict(
        id=alert_id, rule_id="strikes-odesa", severity="high", group_by="story", group=alert_id, story_id=alert_id,
        title=HEADLINE, summary="Drones > 40 & rising", categories=["strikes"], matched=["strike"],
        reports=[{"headline_id": "h1", "source": "Kyiv Wire", "title": HEADLINE, "link": "https://kyiv.example/1?a=1&b=2"}],
        source_count=1, first_seen=NOW, fired=NOW, notify=notify, rules_version="v1",
    )
    fields.update(overrides)
    return Alert.model_validate(fields)


async def publish(settings: Settings, alerts: list[Alert], partition: int | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for alert in alerts:
            await producer.send_and_wait(Topics(settings.topic_prefix).alerts, alert.to_bytes(),
                                         key=alert.id.encode(), partition=partition)
    finally:
        await producer.stop()


async def topics_ready(settings: Settings) -> Topics:
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings.bootstrap, topics.specs())
    return topics


async def committed(settings: Settings) -> dict[int, int]:
    """Committed offsets of the notifiers' consumer group, per alerts partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(consumer_group(settings))
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def dead_letters(settings: Settings, count: int, timeout: float = 30.0) -> list[DeadLetter]:
    docs = await wait_for_messages(settings, Topics(settings.topic_prefix).alerts_dead, count, timeout)
    return [DeadLetter.model_validate(d) for d in docs]


async def eventually(check: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def eventually_async(check: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():  # type: ignore[misc]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextlib.asynccontextmanager
async def notifier(settings: Settings, config: Path | None, **kwargs: object) -> AsyncIterator[asyncio.Task[None]]:
    """run_notifier as a task; stopped through its stop event (a clean shutdown) on exit."""
    kwargs.setdefault("retry", FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier(settings, config, stop, **kwargs))  # type: ignore[arg-type]
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def counter(tag: str, result: str) -> float:
    return REGISTRY.get_sample_value("watchfloor_notify_deliveries_total", {"tag": tag, "result": result}) or 0.0


# --- the tests ------------------------------------------------------------------------------------


async def test_an_alert_arrives_as_one_html_email_and_one_json_webhook(settings, receiver, smtp, tmp_path):
    inbox, smtp_port = smtp
    hook = Hook(receiver, "/hook")
    config = write_config(tmp_path, [(mail_url(smtp_port), "ops"), (hook.url(), "ops")])
    await topics_ready(settings)
    alert = make_alert("alert-email-json", ["ops"])
    async with notifier(settings, config):
        await publish(settings, [alert])
        await eventually(lambda: inbox.messages and hook.received, timeout=20, what="the email and the webhook")
        await eventually_async(lambda: _committed_total(settings, 1), timeout=20, what="the commit")
    assert len(inbox.messages) == 1 and len(hook.received) == 1
    assert inbox.logins == [(b"user", b"Pa55word")]

    mail = inbox.messages[0]
    assert mail["subject"] == f"[HIGH] {HEADLINE}"  # the subject is plain text
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "<!channel>" not in html and "<@U123>" not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert "&lt;!channel&gt;" in html and "&lt;@U123&gt;" in html and "fuel depot &amp;" in html
    assert '<a href="https://kyiv.example/1?a=1&amp;b=2">' in html
    assert "Drones &gt; 40 &amp; rising" in html
    plain = mail.get_body(("plain",)).get_content()
    assert "- Kyiv Wire: " + HEADLINE + " <https://kyiv.example/1?a=1&b=2>" in plain.splitlines()

    payload = hook.received[0]
    assert payload["title"] == f"[HIGH] {HEADLINE}"
    assert payload["type"] == "warning"
    assert "Drones > 40 & rising" in payload["message"]
    assert "- Kyiv Wire: " + HEADLINE + " — https://kyiv.example/1?a=1&b=2" in payload["message"]
    fields = payload["alert"]
    assert (fields["id"], fields["rule"], fields["severity"], fields["categories"], fields["source_count"]) == (
        "alert-email-json", "strikes-odesa", "high", ["strikes"], 1)
    assert fields["links"] == [{"title": HEADLINE, "source": "Kyiv Wire", "url": "https://kyiv.example/1?a=1&b=2", "published": None, "language": None}]

    log_keys = {k.decode() for k, _ in await read_to_end(settings, Topics(settings.topic_prefix).deliveries)}
    assert len(log_keys) == 2 and all(k.startswith("alert-email-json:") and len(k.split(":")[1]) == 64 for k in log_keys)


async def _committed_total(settings: Settings, expected: int) -> bool:
    return sum((await committed(settings)).values()) >= expected


async def test_a_failing_channel_is_retried_and_the_alert_arrives_exactly_once(settings, receiver, tmp_path):
    tag = f"flaky{settings.topic_prefix}"
    hook = Hook(receiver, "/flaky", fail_first=3)
    config = write_config(tmp_path, [(hook.url(), tag)])
    await topics_ready(settings)
    retried_before = counter(tag, "retried")
    async with notifier(settings, config):
        await publish(settings, [make_alert("alert-flaky", [tag])])
        await eventually(lambda: hook.received, timeout=20, what="the delivery after retries")
        await eventually_async(lambda: _committed_total(settings, 1), timeout=20, what="the commit")
        await asyncio.sleep(0.5)  # room for a (wrong) extra send
    assert hook.requests == 4 and len(hook.received) == 1
    assert counter(tag, "retried") - retried_before == 3 and counter(tag, "ok") == 1
    assert await read_to_end(settings, Topics(settings.topic_prefix).alerts_dead) == []


async def test_a_dead_channel_is_dead_lettered_while_other_alerts_go_through(settings, receiver, tmp_path):
    events: list[str] = []
    broken = Hook(receiver, "/broken", broken=True, events=events, delay=0.2)  # 12 attempts: >= 2.4 s
    healthy = Hook(receiver, "/healthy", events=events)
    config = write_config(tmp_path, [(broken.url(), "broken"), (healthy.url(), "healthy")])
    await topics_ready(settings)
    policy = RetryPolicy(base=0.05, cap=0.1, max_attempts=12, max_elapsed=60.0, attempt_timeout=10.0)
    stuck, fine = make_alert("alert-stuck", ["broken"]), make_alert("alert-fine", ["healthy"])
    async with notifier(settings, config, retry=policy, commit_interval=0.1):
        await publish(settings, [stuck, fine], partition=0)  # same partition: the stuck one is first
        await eventually(lambda: healthy.received, timeout=20, what="the healthy alert")
        await asyncio.sleep(0.5)  # several commit intervals
        # offset 1 is settled but offset 0 is not: nothing may be committed yet
        assert await committed(settings) == {} and broken.requests < 12
        (letter,) = await dead_letters(settings, 1)
        await eventually_async(lambda: _committed_total(settings, 2), timeout=20, what="both offsets committed")
    # the healthy alert, behind the stuck one in its partition, was delivered while the other was retried
    assert len(healthy.received) == 1 and broken.requests == 12
    assert events.index("/healthy 200") < len(events) - 1 - events[::-1].index("/broken 500")
    assert letter.alert.id == "alert-stuck" and letter.tag == "broken" and letter.attempts == 12
    assert "gave up after 12 attempt(s)" in letter.reason and "error=500" in letter.reason
    assert letter.channel.startswith(f"json://127.0.0.1:{receiver.port}/broken")
    assert (await committed(settings)) == {0: 2}


async def test_a_tag_without_channels_is_logged_and_dead_lettered(settings, receiver, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="watchfloor.notify")
    hook = Hook(receiver, "/ops")
    config = write_config(tmp_path, [(hook.url(), "ops")])
    await topics_ready(settings)
    async with notifier(settings, config):
        await publish(settings, [make_alert("alert-nobody", ["ops", "nobody"])])
        (letter,) = await dead_letters(settings, 1)
        await eventually(lambda: hook.received, timeout=20, what="the ops delivery")
    assert letter.tag == "nobody" and letter.attempts == 0 and letter.channel == ""
    assert "no channel" in letter.reason and "'nobody'" in letter.reason and letter.alert.id == "alert-nobody"
    warning = next(r for r in caplog.records if r.name == "watchfloor.notify" and r.levelno == logging.WARNING)
    assert warning.tag == "nobody" and warning.alert == "alert-nobody" and warning.rule == "strikes-odesa"
    assert len(hook.received) == 1


async def test_no_secret_reaches_logs_output_or_topics(settings, receiver, smtp, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # Apprise, urllib3 and ours at their most verbose
    inbox, smtp_port = smtp
    hook = Hook(receiver, "/secret", broken=True)
    config = write_config(tmp_path, [
        (hook.url("user:S3cretTok3n@"), "ops"),              # answers 500: retried, dead-lettered
        (mail_url(free_port()), "ops"),                       # nothing listens: dead-lettered
        (mail_url(smtp_port), "ops"),                         # logs in with the password: delivered
    ])
    await topics_ready(settings)
    policy = RetryPolicy(base=0.05, cap=0.1, max_attempts=2, max_elapsed=30.0, attempt_timeout=10.0)
    async with notifier(settings, config, retry=policy):
        await publish(settings, [make_alert("alert-secret", ["ops"])])
        letters = await dead_letters(settings, 2)
        await eventually(lambda: inbox.messages, timeout=20, what="the email")
    assert hook.requests == 2 and inbox.logins == [(b"user", b"Pa55word")]
    assert {letter.channel.split(":")[0] for letter in letters} == {"json", "mailto"}
    assert all("****" in letter.channel for letter in letters)

    topics = Topics(settings.topic_prefix)
    stored = [v for _, v in await read_to_end(settings, topics.alerts_dead)]
    stored += [k + b" " + v for k, v in await read_to_end(settings, topics.deliveries)]
    out, err = capfd.readouterr()
    logged = caplog.text + "".join(repr(vars(r)) for r in caplog.records)
    for secret in ("S3cretTok3n", "Pa55word"):
        assert secret not in logged
        assert secret not in out and secret not in err
        assert all(secret.encode() not in value for value in stored)
    assert "json://user:****@127.0.0.1" in logged  # channels are logged, in privacy form


async def test_without_a_config_alerts_are_printed_to_the_console(settings, capsys):
    await topics_ready(settings)
    alert = make_alert("alert-console", ["any-tag-at-all"], summary="Refinery fire \x1b[31min red\x1b[0m")
    printed: list[str] = []

    def seen() -> bool:
        printed.append(capsys.readouterr().out)
        return "Kyiv Wire" in "".join(printed)

    async with notifier(settings, None):
        await publish(settings, [alert])
        await eventually(seen, timeout=20, what="the alert on stdout")
    output = "".join(printed)
    assert f"[HIGH] {HEADLINE}" in output
    assert "HIGH · rule strikes-odesa · 1 source" in output
    assert "Refinery fire [31min red[0m" in output and "\x1b" not in output
    assert "- Kyiv Wire: " in output and "https://kyiv.example/1?a=1&b=2" in output


RUNNER = """
import asyncio, sys
from pathlib import Path
from notifiers.deliver import RetryPolicy
from notifiers.service import run_notifier
from core.logs import setup_logging
from core.settings import Settings

setup_logging("INFO", json_logs=True)
policy = RetryPolicy(base=0.05, cap=0.2, max_attempts=10_000, max_elapsed=600.0, attempt_timeout=10.0)
# commit_interval: nothing is committed before the test kills this process
asyncio.run(run_notifier(Settings.from_env(), Path(sys.argv[1]), asyncio.Event(), retry=policy, commit_interval=3600))
"""


async def test_a_notifier_killed_after_sending_does_not_send_again_when_restarted(settings, receiver, cli_env, tmp_path):
    steady = Hook(receiver, "/steady")
    flaky = Hook(receiver, "/flaky", broken=True)  # recovers only after the crash
    config = write_config(tmp_path, [(steady.url(), "ops"), (flaky.url(), "ops"), (steady.url().replace("/steady", "/steady2"), "desk")])
    steady2 = Hook(receiver, "/steady2")
    topics = await topics_ready(settings)
    both, desk_only = make_alert("alert-both", ["ops"]), make_alert("alert-desk", ["desk"])
    log_path = tmp_path / "notify.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(config)], cwd=ROOT, env=cli_env,
                                stdout=log_file, stderr=subprocess.STDOUT)
        try:
            await publish(settings, [both, desk_only])
            # sent and logged: steady has alert-both, steady2 has alert-desk; flaky keeps failing
            await eventually(lambda: steady.received and steady2.received and flaky.requests >= 2, timeout=60,
                             what=f"the first sends (log: {log_path})")
            await wait_for_messages(settings, topics.deliveries, 2, timeout=30)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert await committed(settings) == {}  # killed before any commit: both alerts will be redelivered

    flaky.broken = False
    async with notifier(settings, config):
        await eventually(lambda: flaky.received, timeout=30, what="the flaky channel after the restart")
        await eventually_async(lambda: _committed_total(settings, 2), timeout=30, what="both alerts committed")
        await asyncio.sleep(0.5)  # room for a (wrong) extra send
    assert [p["title"] for p in steady.received] == [f"[HIGH] {HEADLINE}"]  # not sent twice
    assert len(steady2.received) == 1 and len(flaky.received) == 1
    assert len({k for k, _ in await read_to_end(settings, topics.deliveries)}) == 3


async def test_a_stop_during_retries_leaves_the_alert_uncommitted_for_the_next_start(settings, receiver, tmp_path):
    hook = Hook(receiver, "/later", broken=True)
    config = write_config(tmp_path, [(hook.url(), "ops")])
    await topics_ready(settings)
    slow = RetryPolicy(base=0.2, cap=0.2, max_attempts=1000, max_elapsed=600.0, attempt_timeout=10.0)
    async with notifier(settings, config, retry=slow, drain_timeout=0.5):
        await publish(settings, [make_alert("alert-later", ["ops"])])
        await eventually(lambda: hook.requests >= 2, timeout=20, what="the first attempts")
    assert await committed(settings) == {}  # given up at shutdown: not settled, not committed
    hook.broken = False
    async with notifier(settings, config):
        await eventually(lambda: hook.received, timeout=20, what="the delivery after the restart")
        await eventually_async(lambda: _committed_total(settings, 1), timeout=20, what="the commit")
    assert len(hook.received) == 1
    assert await read_to_end(settings, Topics(settings.topic_prefix).alerts_dead) == []


async def test_an_invalid_message_is_skipped_and_committed(settings, receiver, tmp_path, caplog):
    hook = Hook(receiver, "/ops")
    config = write_config(tmp_path, [(hook.url(), "ops")])
    topics = await topics_ready(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.alerts, b'{"schema": "something/9"}', key=b"x", partition=1)
        await producer.send_and_wait(topics.alerts, make_alert("alert-after-junk", ["ops"]).to_bytes(), key=b"y", partition=1)
    finally:
        await producer.stop()
    async with notifier(settings, config):
        await eventually(lambda: hook.received, timeout=20, what="the valid alert")
        await eventually_async(lambda: _committed_total(settings, 2), timeout=20, what="both offsets committed")
    assert any("not an alert/1 document" in r.getMessage() and r.offset == 0 for r in caplog.records)


# --- notify --test ----------------------------------------------------------------------------------


def test_send_test_counts_failed_channels_and_rejects_unknown_tags(receiver, tmp_path, capsys):
    good, bad = Hook(receiver, "/good"), Hook(receiver, "/bad", broken=True)
    config = write_config(tmp_path, [(good.url(), "ops"), (bad.url("user:S3cretTok3n@"), "ops"), (good.url(), "desk")])
    settings = Settings(bootstrap=None)
    assert send_test(settings, config, "desk") == 0
    assert send_test(settings, config, "ops") == 1
    out = capsys.readouterr().out
    assert out.count("ok     desk") == 1 and out.count("ok     ops") == 1 and out.count("FAILED ops") == 1
    assert "S3cretTok3n" not in out and "error=500" in out
    assert len(good.received) == 2 and good.received[0]["title"] == "[INFO] Watchfloor test message"
    with pytest.raises(ConfigError, match="no channel .* has tag 'nope'"):
        send_test(settings, config, "nope")


def test_send_test_without_config_prints_to_the_console(capsys):
    assert send_test(Settings(bootstrap=None), None, "ops") == 0
    out = capsys.readouterr().out
    assert "[INFO] Watchfloor test message" in out and "ok     ops  console://" in out
