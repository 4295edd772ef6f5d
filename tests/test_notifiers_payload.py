"""What a receiver gets, without Kafka: a real SMTP server (aiosmtpd) for email's text/plain and
HTML parts, and a real HTTP receiver for the alert's fields in a json:// payload. Channels are
loaded from an Apprise config and sent through Apprise, as `watchfloor notify` does."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from notifiers.channels import Channel, Channels
from notifiers.format import Kind, render
from core.contracts import Alert

NOW = datetime(2025, 11, 20, 8, 30, tzinfo=timezone.utc)
REPORTS = [
    ("Baltic Monitor", "Poland detains <two> suspects over rail sabotage & arson", "https://baltic.example/pl/1?a=1&b=2"),
    ("Kyiv Wire", "Rail line blast: Polish police hold two", "https://kyivwire.example/2"),
    ("Europe Desk", "Sabotage on Warsaw–Lublin line", "https://europedesk.example/a b"),  # space: percent-encoded
]


def make_alert(**overrides: object) -> Alert:
    fields: dict[str, object] = dict(
        id="b" * 32, rule_id="sabotage", severity="critical", group_by="story", group="story-7", story_id="story-7",
        title="Poland detains <two> suspects over rail sabotage & arson", summary="Explosives on the Warsaw–Lublin line",
        categories=["sabotage", "rail"], matched=["sabotage*"],
        reports=[{"headline_id": f"h{i}", "source": s, "title": t, "link": u, "published": NOW}
                 for i, (s, t, u) in enumerate(REPORTS)],
        source_count=3, story_count=1, first_seen=NOW, fired=NOW, notify=["ops"], rules_version="v9",
    )
    fields.update(overrides)
    return Alert.model_validate(fields)


def channel_for(tmp_path: Path, url: str) -> Channel:
    config = tmp_path / "apprise.txt"
    config.write_text(f"ops={url}\n")
    (channel,) = Channels.load(config).for_tag("ops")
    return channel


# --- email: a real SMTP server ---------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001 - aiosmtpd's hook signature
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_the_plain_text_part_of_an_email_carries_every_report_link(smtp, tmp_path):
    inbox, port = smtp
    channel = channel_for(tmp_path, f"mailto://127.0.0.1:{port}?smtp=127.0.0.1&mode=insecure"
                                    "&from=watchfloor@example.com&to=desk@example.com")
    assert channel.kind is Kind.EMAIL
    outcome = await channel.send(render(make_alert(), channel.kind))
    assert outcome.ok, outcome.reason
    (mail,) = inbox.messages

    plain = mail.get_body(("plain",)).get_content()
    lines = plain.splitlines()
    assert "- Baltic Monitor: Poland detains <two> suspects over rail sabotage & arson <https://baltic.example/pl/1?a=1&b=2>" in lines
    assert "- Kyiv Wire: Rail line blast: Polish police hold two <https://kyivwire.example/2>" in lines
    assert "- Europe Desk: Sabotage on Warsaw–Lublin line <https://europedesk.example/a%20b>" in lines

    # the HTML part: the same escaped text and links; each URL's text only in a span hidden from display
    html = mail.get_body(("html",)).get_content()
    assert "<two>" not in html and "Poland detains &lt;two&gt; suspects over rail sabotage &amp; arson" in html
    assert '<a href="https://baltic.example/pl/1?a=1&amp;b=2">Poland detains &lt;two&gt; suspects' in html
    assert '<a href="https://europedesk.example/a%20b">Sabotage on Warsaw–Lublin line</a>' in html
    hidden = re.findall(r'<span style="display:none;mso-hide:all">([^<]*)</span>', html)
    assert hidden == [" &lt;https://baltic.example/pl/1?a=1&amp;b=2&gt;", " &lt;https://kyivwire.example/2&gt;",
                      " &lt;https://europedesk.example/a%20b&gt;"]
    shown = re.sub(r'<span style="display:none;mso-hide:all">[^<]*</span>', "", html)
    assert "&lt;https://" not in re.sub(r'href="[^"]*"', "", shown)  # a reader of the HTML sees no bare URL


async def test_an_update_email_replies_to_its_event_so_mail_clients_thread_it(smtp, tmp_path):
    inbox, port = smtp
    channel = channel_for(tmp_path, f"mailto://127.0.0.1:{port}?smtp=127.0.0.1&mode=insecure"
                                    "&from=watchfloor@example.com&to=desk@example.com")
    first = make_alert(kind="alert", event_id="9d41c0a2b7e3f815")
    update = make_alert(id="c" * 32, kind="update", event_id="9d41c0a2b7e3f815", update_of="b" * 32,
                        title="Update: Poland detains two", changes=["sources: 2 → 3", "now also reported in uk"])
    other = make_alert(id="d" * 32, kind="alert", event_id="0000aaaa1111bbbb")
    for alert in (first, update, other):
        outcome = await channel.send(render(alert, channel.kind))
        assert outcome.ok, outcome.reason
    mail_first, mail_update, mail_other = inbox.messages
    root = "<9d41c0a2b7e3f815@watchfloor.event>"
    assert mail_first["References"] == root and mail_first["In-Reply-To"] is None
    assert mail_update["In-Reply-To"] == root and mail_update["References"] == root
    assert mail_update["Subject"].startswith("[CRITICAL] Update: ")
    assert "What changed:" in mail_update.get_body(("html",)).get_content()
    assert mail_other["References"] != root  # another event, another thread
    assert len({m["Message-ID"] for m in inbox.messages}) == 3


def test_an_email_template_keeps_the_links_for_the_plain_part_too():
    body = render(make_alert(template="{title}\n{links}"), Kind.EMAIL).body
    assert '</a><span style="display:none;mso-hide:all"> &lt;https://kyivwire.example/2&gt;</span></li>' in body


# --- json://: a real HTTP receiver -------------------------------------------------------------------


class Hook:
    def __init__(self, server: HTTPServer, path: str) -> None:
        self.received: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.port = server.port
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.received.append(json.loads(request.get_data()))
            self.headers.append(dict(request.headers))
        return Response("ok")


async def test_a_json_webhook_receives_the_alerts_fields(hook_server, tmp_path):
    hook = Hook(hook_server, "/hook")
    channel = channel_for(tmp_path, f"json://user:S3cret@127.0.0.1:{hook.port}/hook")
    assert channel.kind is Kind.JSON
    alert = make_alert(reports=[*make_alert().reports, {"headline_id": "h9", "source": "Sly", "title": "x",
                                                        "link": "javascript:alert(1)"}])
    outcome = await channel.send(render(alert, channel.kind))
    assert outcome.ok, outcome.reason
    (payload,) = hook.received

    # Apprise's own fields, as before: the text body stays readable
    assert payload["title"] == "[CRITICAL] Poland detains <two> suspects over rail sabotage & arson"
    assert payload["type"] == "failure" and payload["version"] == "1.0"
    assert "- Kyiv Wire: Rail line blast: Polish police hold two — https://kyivwire.example/2" in payload["message"]

    fields = payload["alert"]
    assert fields["id"] == "b" * 32 and fields["rule"] == "sabotage" and fields["severity"] == "critical"
    assert fields["categories"] == ["sabotage", "rail"] and fields["matched"] == ["sabotage*"]
    assert fields["source_count"] == 3 and fields["story_count"] == 1
    assert fields["story_id"] == "story-7" and fields["group_by"] == "story" and fields["group"] == "story-7"
    assert fields["first_seen"] == "2025-11-20T08:30:00Z" and fields["fired"] == "2025-11-20T08:30:00Z"
    assert fields["title"] == "Poland detains <two> suspects over rail sabotage & arson"
    assert fields["rules_version"] == "v9"
    assert fields["links"] == [
        {"title": t, "source": s, "url": u.replace(" ", "%20"), "published": "2025-11-20T08:30:00Z", "language": None}
        for s, t, u in REPORTS
    ] + [{"title": "x", "source": "Sly", "url": None, "published": None, "language": None}]  # only http(s) links
    assert hook.headers[0]["Authorization"].startswith("Basic ")  # the URL's credentials still apply


async def test_payload_extras_of_the_users_own_url_are_kept(hook_server, tmp_path):
    hook = Hook(hook_server, "/desk")
    channel = channel_for(tmp_path, f"json://127.0.0.1:{hook.port}/desk?:team=desk&:version=&:message=text&+X-Team=desk")
    outcome = await channel.send(render(make_alert(), channel.kind))
    assert outcome.ok, outcome.reason
    (payload,) = hook.received
    assert payload["team"] == "desk" and "version" not in payload  # `:key=value` added, `:key=` removed
    assert "message" not in payload and "Explosives on the Warsaw–Lublin line" in payload["text"]  # renamed
    assert payload["alert"]["id"] == "b" * 32 and payload["alert"]["links"][1]["url"] == "https://kyivwire.example/2"
    assert hook.headers[0]["X-Team"] == "desk"


async def test_concurrent_alerts_on_one_channel_each_carry_their_own_fields(hook_server, tmp_path):
    """A json:// channel keeps the Apprise objects it builds for alerts' fields and reuses them;
    twenty alerts sent at once, then twenty more, each reach the receiver with its own fields
    and title, never another's, and the user's own extras stay."""
    import asyncio

    hook = Hook(hook_server, "/many")
    channel = channel_for(tmp_path, f"json://127.0.0.1:{hook.port}/many?:team=desk")
    for round_ in range(2):
        alerts = [make_alert(id=f"{round_}{i:031d}", title=f"Alert number {round_}-{i}") for i in range(20)]
        outcomes = await asyncio.gather(*(channel.send(render(a, channel.kind)) for a in alerts))
        assert all(o.ok for o in outcomes), [o.reason for o in outcomes if not o.ok]
    assert len(hook.received) == 40
    for payload in hook.received:
        number = payload["alert"]["id"][0] + "-" + str(int(payload["alert"]["id"][1:]))
        assert payload["alert"]["title"] == f"Alert number {number}" and payload["title"].endswith(f"Alert number {number}")
        assert payload["team"] == "desk"
    assert len({p["alert"]["id"] for p in hook.received}) == 40


def test_only_json_channels_get_the_fields():
    alert = make_alert()
    for kind in (Kind.SLACK, Kind.EMAIL, Kind.TEXT):
        message = render(alert, kind)
        assert message.payload_extras is None and '"rule"' not in message.body
    assert render(alert, Kind.JSON).body == render(alert, Kind.TEXT).body


async def test_at_info_a_send_logs_no_apprise_line_and_a_failure_still_says_why(hook_server, tmp_path, capsys):
    """Apprise's "Sent JSON POST notification." came beside the notifier's own "alert delivered"
    for every alert; at INFO only its warnings are kept, which are why a send failed."""
    import logging

    from core.logs import setup_logging

    hook = Hook(hook_server, "/hook")
    hook_server.expect_request("/broken", method="POST").respond_with_data("no", status=500)
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("apprise").level
    try:
        setup_logging("INFO", json_logs=True)
        ok = await channel_for(tmp_path, f"json://127.0.0.1:{hook.port}/hook").send(render(make_alert(), Kind.JSON))
        failed = await channel_for(tmp_path, f"json://127.0.0.1:{hook.port}/broken").send(render(make_alert(), Kind.JSON))
        logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        root.handlers[:], level, apprise_level = saved
        root.setLevel(level)
        logging.getLogger("apprise").setLevel(apprise_level)
    assert ok.ok and len(hook.received) == 1
    assert not failed.ok and "error=500" in failed.reason
    from_apprise = [r for r in logged if r["logger"] == "apprise"]
    assert from_apprise and all(r["level"] in ("warning", "error") for r in from_apprise)
    assert any("error=500" in r["msg"] for r in from_apprise)
