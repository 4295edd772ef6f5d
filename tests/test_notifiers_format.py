"""Notifier parts that need no broker: per-channel formatting (and what Apprise's Slack plugin makes
of it), routing through Apprise tags, secret redaction, commit points, retry delays."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import pytest

from notifiers.channels import Channels, known_tags
from notifiers.deliver import RetryPolicy
from notifiers.format import (
    REPORT_LINES,
    SUMMARY_MAX,
    TITLE_MAX,
    Kind,
    kind_for_url,
    render,
    safe_url,
)
from notifiers.offsets import OffsetTracker
from notifiers.redact import channel_hash, redact, register_url, secret_fragments
from core.contracts import Alert
from core.settings import ConfigError

NOW = datetime(2025, 11, 20, 8, 30, tzinfo=timezone.utc)
SLACK_TOKENS = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
SLACK_URL = "slack://{}/{}/{}".format(*SLACK_TOKENS)
NASTY_TITLE = '<script>alert("x")</script> Strike hits <!channel> depot, AT&T says <@U123> & <!here>'


def make_alert(**overrides: object) -> Alert:
    fields: dict[str, object] = dict(
        id="a" * 32,
        rule_id="strikes-odesa",
        severity="high",
        group_by="story",
        group="story-1",
        story_id="story-1",
        title=NASTY_TITLE,
        summary="Drones > 40 & <b>rising</b> in Odesa",
        categories=["strikes", "energy"],
        matched=["strike"],
        reports=[
            {"headline_id": "h1", "source": "Kyiv <Wire>", "title": "Depot | burning <!here>",
             "link": "https://kyiv.example/a?x=1&y=<2>|z", "published": NOW},
            {"headline_id": "h2", "source": "Sly", "title": "script link", "link": "javascript:alert(1)"},
            {"headline_id": "h3", "source": "Plain", "title": "no link", "link": None},
        ],
        source_count=3,
        first_seen=NOW,
        fired=NOW,
        notify=["ops"],
        rules_version="v1",
    )
    fields.update(overrides)
    return Alert.model_validate(fields)


def slack_final(body: str) -> str:
    """What Apprise's Slack plugin turns our (declared Markdown) body into: its own dialect step."""
    from apprise.plugins.slack import NotifySlack

    return NotifySlack._commonmark_to_slack(body)


# --- kinds and links ----------------------------------------------------------------------------


def test_channel_kind_follows_the_url_scheme():
    assert kind_for_url(SLACK_URL) is Kind.SLACK
    assert kind_for_url("mailto://u:p@example.com") is Kind.EMAIL
    assert kind_for_url("mailtos://u:p@example.com") is Kind.EMAIL
    assert kind_for_url("json://127.0.0.1/x") is Kind.JSON
    assert kind_for_url("jsons://127.0.0.1/x") is Kind.JSON
    assert kind_for_url("console://") is Kind.TEXT


def test_only_http_links_survive_and_breaking_characters_are_encoded():
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("ftp://x.example/a") is None
    assert safe_url("https:///nohost") is None
    assert safe_url(None) is None
    assert safe_url("https://x.example/a b?q=<1>|2&r=\"3\"") == "https://x.example/a%20b?q=%3C1%3E%7C2&r=%223%22"
    assert safe_url("https://x.example/already%20encoded") == "https://x.example/already%20encoded"


# --- Slack --------------------------------------------------------------------------------------


def test_slack_body_neutralises_mentions_escapes_and_links():
    message = render(make_alert(), Kind.SLACK)
    assert message.body_format.value == "markdown"
    final = slack_final(message.body)
    # no mention survives: Slack only acts on a literal "<!" or "<@"
    assert "<!" not in final and "<@" not in final
    assert "&lt;!channel&gt;" not in final  # the title is not in the body (it is the Slack title)
    assert "Drones &gt; 40 &amp; &lt;b&gt;rising&lt;/b&gt; in Odesa" in final
    # the link: Slack's <url|text>, url with & as &amp; and |, <, > percent-encoded, text escaped
    assert "<https://kyiv.example/a?x=1&amp;y=%3C2%3E%7Cz|Depot | burning &lt;!here&gt;>" in final
    assert "Kyiv &lt;Wire&gt;:" in final
    # a javascript: link is shown as text, never linked
    assert "Sly: script link" in final and "javascript" not in final
    # nothing escaped twice
    assert "&amp;amp;" not in final and "&amp;lt;" not in final and "&amp;gt;" not in final


def test_slack_title_and_summary_mentions_never_become_mentions_through_a_template():
    alert = make_alert(template="{severity} {title} — {summary}\n{links}", summary="<!everyone> <@U999|boss> *all*")
    final = slack_final(render(alert, Kind.SLACK).body)
    assert "<!" not in final and "<@" not in final
    assert "&lt;!channel&gt;" in final and "&lt;@U123&gt;" in final and "&lt;!everyone&gt;" in final
    assert "AT&amp;T" in final
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in final


NASTY = [
    "<!channel>", "< !here >", "<@U123|boss>", "<#C123>", "<https://evil.example|click>", "<mailto:x@evil.example>",
    "[click](https://evil.example)", "[click](<https://evil.example>)", "`<!channel>`", "``<@U1>``", "\\<!here>",
    "a\\", "&lt;!channel&gt;", "&amp;", "**bold** _it_ ~s~", "# heading", "> quote", "![img](https://evil.example/x.png)",
    "<<!channel>>", "<\n!channel>", "x>y<z", "|>|<|",
]


@pytest.mark.parametrize("nasty", NASTY)
def test_no_feed_text_can_open_a_slack_control_sequence(nasty):
    """Slack acts on `<...>` only: every `<` in the final mrkdwn must be one of our own links."""
    reports = [{"headline_id": "h", "source": nasty, "title": nasty, "link": "https://ok.example/1"}]
    alert = make_alert(title=nasty, summary=nasty, reports=reports, template=None)
    for template in (None, "{title} {summary} {categories}\n{links} " + nasty.replace("{", "{{").replace("}", "}}")):
        final = slack_final(render(alert.model_copy(update={"template": template, "categories": [nasty]}), Kind.SLACK).body)
        opened = [final[i:] for i in range(len(final)) if final[i] == "<"]
        assert opened and all(o.startswith("<https://ok.example/1|") for o in opened), final


@pytest.mark.parametrize("blocks", ["no", "yes"])
async def test_what_the_apprise_slack_plugin_posts(blocks, caplog):
    """Slack is unreachable here, so only its HTTP call is replaced; Apprise's own formatting runs."""
    caplog.set_level(logging.DEBUG)
    alert = make_alert()
    channel = _one_channel(f"{SLACK_URL}?blocks={blocks}")
    assert channel.kind is Kind.SLACK
    with mock.patch("apprise.plugins.slack.requests.request") as request:
        request.return_value.status_code = 200
        request.return_value.content = b"ok"
        outcome = await channel.send(render(alert, channel.kind))
    assert outcome.ok
    url = request.call_args.args[1]
    assert url.startswith("https://hooks.slack.com/services/")
    payload = json.loads(request.call_args.kwargs["data"])
    if blocks == "no":
        text, title = payload["attachments"][0]["text"], payload["attachments"][0]["title"]
        assert payload["mrkdwn"] is True
    else:
        blocks_ = payload["attachments"][0]["blocks"]
        title = blocks_[0]["text"]["text"]
        section = blocks_[1]["text"]
        assert section["type"] == "mrkdwn"
        text = section["text"]
    assert text == slack_final(render(alert, Kind.SLACK).body)  # exactly our mrkdwn, nothing re-escaped
    assert "<!" not in text and "<@" not in text
    assert "<https://kyiv.example/a?x=1&amp;y=%3C2%3E%7Cz|Depot | burning &lt;!here&gt;>" in text
    assert title.startswith("[HIGH] &lt;script&gt;") and "&lt;!channel&gt;" in title and "<!" not in title
    # the plugin logs its webhook URL (tokens included) at DEBUG: the tokens never reach a log
    assert any("Slack POST URL" in r.getMessage() for r in caplog.records)
    for token in SLACK_TOKENS:
        assert token not in caplog.text


# --- email and plain text -----------------------------------------------------------------------


def test_email_is_html_with_every_feed_text_escaped():
    message = render(make_alert(), Kind.EMAIL)
    assert message.body_format.value == "html"
    body = message.body
    assert "<script>" not in body and "<!channel>" not in body and "<@U123>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "&lt;!channel&gt;" in body and "AT&amp;T" in body
    assert '<a href="https://kyiv.example/a?x=1&amp;y=%3C2%3E%7Cz">Depot | burning &lt;!here&gt;</a>' in body
    assert "javascript" not in body
    assert message.title == "[HIGH] " + NASTY_TITLE  # the subject is plain text


def test_plain_text_is_readable_and_keeps_only_http_links():
    message = render(make_alert(), Kind.TEXT)
    assert message.body_format.value == "text"
    assert message.title == "[HIGH] " + NASTY_TITLE
    lines = message.body.splitlines()
    assert lines[0] == "HIGH · rule strikes-odesa · 3 sources"
    assert "Drones > 40 & <b>rising</b> in Odesa" in lines
    assert "- Kyiv <Wire>: Depot | burning <!here> — https://kyiv.example/a?x=1&y=%3C2%3E%7Cz" in lines
    assert "- Sly: script link" in lines and "javascript" not in message.body
    assert lines[-1] == "First seen 2025-11-20 08:30 UTC · fired 2025-11-20 08:30 UTC"


def test_old_news_says_when_it_was_published():
    """A feed's backlog or a late feed: yesterday's strike alerted now must not read as tonight's."""
    from datetime import timedelta

    old = make_alert(reports=[{"headline_id": "h1", "source": "Late Feed", "title": "Strike", "published": NOW - timedelta(days=1)}])
    assert render(old, Kind.TEXT).body.splitlines()[-1] == (
        "Published 2025-11-19 08:30 UTC · first seen 2025-11-20 08:30 UTC · fired 2025-11-20 08:30 UTC")
    fresh = make_alert(reports=[{"headline_id": "h1", "source": "Wire", "title": "Strike", "published": NOW - timedelta(minutes=10)}])
    assert render(fresh, Kind.TEXT).body.splitlines()[-1].startswith("First seen ")


def test_control_characters_go_and_long_text_is_cut():
    reports = [{"headline_id": f"h{i}", "source": "S", "title": f"report {i}", "link": f"https://x.example/{i}"} for i in range(25)]
    alert = make_alert(title="Bell\x07 and \x1b[31mred\x1b[0m " + "word " * 200, summary="s" * 5000, reports=reports)
    for kind in Kind:
        message = render(alert, kind)
        assert "\x07" not in message.title + message.body and "\x1b" not in message.title + message.body
    text = render(alert, Kind.TEXT)
    assert len(text.title) <= len("[HIGH] ") + TITLE_MAX and text.title.endswith("…")
    summary_line = next(line for line in text.body.splitlines() if line.startswith("sss"))
    assert len(summary_line) == SUMMARY_MAX and summary_line.endswith("…")
    report_lines = [line for line in text.body.splitlines() if line.startswith("- S: report")]
    assert len(report_lines) == REPORT_LINES
    assert "- and 15 more" in text.body


def test_severity_sets_the_apprise_notify_type():
    assert render(make_alert(severity="info"), Kind.TEXT).notify_type.value == "info"
    assert render(make_alert(severity="high"), Kind.TEXT).notify_type.value == "warning"
    assert render(make_alert(severity="critical"), Kind.TEXT).notify_type.value == "failure"


# --- templates ----------------------------------------------------------------------------------


def test_template_fields_are_rendered_already_escaped_per_channel():
    alert = make_alert(template="{severity}/{rule_id}: {title} ({source_count} sources, {story_count} stories) [{categories}]\n{links}")
    text = render(alert, Kind.TEXT).body
    assert text.startswith("HIGH/strikes-odesa: " + NASTY_TITLE + " (3 sources, 1 stories) [strikes, energy]\n- Kyiv <Wire>")
    html = render(alert, Kind.EMAIL).body
    assert "HIGH/strikes-odesa: &lt;script&gt;" in html and "<br>\n<ul><li>Kyiv &lt;Wire&gt;" in html
    slack = slack_final(render(alert, Kind.SLACK).body)
    assert slack.startswith("HIGH/strikes-odesa: &lt;script&gt;") and "[strikes, energy]" in slack


def test_template_text_itself_is_plain_text_in_every_channel():
    alert = make_alert(template="<b>{severity}</b> & <!channel> {title}")
    assert render(alert, Kind.EMAIL).body.count("&lt;b&gt;HIGH&lt;/b&gt; &amp; &lt;!channel&gt;") == 1
    assert "<!" not in slack_final(render(alert, Kind.SLACK).body)


@pytest.mark.parametrize(
    "template",
    ["{title.__class__.__mro__}", "{nope}", "{title!r}", "{title:>999999999}", "{0}", "{title", "}{", "{reports[0]}"],
)
def test_a_bad_template_falls_back_to_the_default_with_a_warning(template, caplog):
    caplog.set_level(logging.WARNING, logger="watchfloor.notify")
    alert = make_alert(template=template)
    assert render(alert, Kind.TEXT).body == render(make_alert(template=None), Kind.TEXT).body
    warnings = [r for r in caplog.records if r.name == "watchfloor.notify" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "template" in warnings[0].getMessage()
    assert warnings[0].alert == alert.id and warnings[0].rule == "strikes-odesa"


# --- routing through Apprise ---------------------------------------------------------------------


def _config(tmp_path: Path, text: str | None, name: str = "apprise.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text or "")
    return path


def _one_channel(url: str):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        channels = Channels.load(_config(Path(folder), f"any={url}\n", "apprise.txt"))
        (channel,) = channels.for_tag("any")
        return channel


YAML_CONFIG = """
urls:
  - json://user:S3cretTok3n@127.0.0.1:9/hook:
      tag: ops, oncall
  - mailto://user:Pa55word@127.0.0.1:2525?smtp=127.0.0.1&from=alerts@example.com&to=ops@example.com&mode=insecure:
      tag: ops
  - json://127.0.0.1:9/desk:
      tag: desk
"""


def test_known_tags_and_routing_come_from_the_apprise_yaml_config(tmp_path):
    path = _config(tmp_path, YAML_CONFIG)
    assert known_tags(path) == {"ops", "oncall", "desk"}
    channels = Channels.load(path)
    ops = channels.for_tag("ops")
    assert {c.kind for c in ops} == {Kind.JSON, Kind.EMAIL}
    assert [c.privacy_url for c in channels.for_tag("oncall")] == [next(c for c in ops if c.kind is Kind.JSON).privacy_url]
    assert channels.for_tag("nobody") == []
    # the same URL is the same channel object, whatever tag reached it
    assert channels.for_tag("oncall")[0] is next(c for c in ops if c.kind is Kind.JSON)
    for channel in channels.all():
        assert "S3cretTok3n" not in channel.privacy_url and "Pa55word" not in channel.privacy_url
        assert len(channel.hash) == 64


def test_apprise_text_config_and_its_always_tag(tmp_path):
    path = _config(tmp_path, "ops, oncall=json://127.0.0.1:9/a\nalways=json://127.0.0.1:9/b\n", "apprise.txt")
    assert known_tags(path) == {"ops", "oncall", "always"}
    channels = Channels.load(path)
    assert len(channels.for_tag("ops")) == 2
    assert len(channels.for_tag("anything")) == 1  # Apprise's `always` tag gets every alert


def test_no_config_routes_every_tag_to_the_console():
    channels = Channels.load(None)
    assert channels.is_console
    (channel,) = channels.for_tag("whatever-tag")
    assert channel.privacy_url == "console://" and channels.for_tag("other") == [channel]


def test_a_missing_or_empty_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Channels.load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no usable URL"):
        Channels.load(_config(tmp_path, "urls:\n  - notaplugin://x\n"))
    with pytest.raises(ConfigError):
        known_tags(tmp_path / "missing.yaml")


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_are_what_the_privacy_url_hides():
    channel = _one_channel(SLACK_URL)
    assert secret_fragments(SLACK_URL, channel.privacy_url) == set(SLACK_TOKENS)
    assert secret_fragments("json://user:pw1234@127.0.0.1:9/hook?method=POST", "json://user:****@127.0.0.1:9/hook?method=POST") == {"pw1234"}
    register_url("json://user:Zz9secretZz@host/path?token=Qq8tokenQq", "json://user:****@host/path?token=****")
    text = "POST json://user:Zz9secretZz@host/path?token=Qq8tokenQq failed"
    assert redact(text) == "POST json://user:****@host/path?token=**** failed"
    # any URL password, even of a URL never loaded
    assert redact("see https://bob:hunter22@example.com/x") == "see https://bob:****@example.com/x"
    assert channel_hash("json://a") != channel_hash("json://b") and "json" not in channel_hash("json://a")


# --- commit points and retry delays -------------------------------------------------------------


def test_commit_point_never_passes_an_unfinished_alert():
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.started("p0", offset)
    tracker.started("p1", 5)
    tracker.finished("p0", 11)
    tracker.finished("p0", 13)
    assert tracker.to_commit() == {}
    tracker.finished("p0", 10)
    assert tracker.to_commit() == {"p0": 12}
    tracker.committed({"p0": 12})
    assert tracker.to_commit() == {}
    tracker.finished("p0", 12)
    tracker.finished("p1", 5)
    assert tracker.to_commit() == {"p0": 14, "p1": 6}
    assert tracker.to_commit(["p1"]) == {"p1": 6}
    tracker.forget(["p0"])
    tracker.finished("p0", 99)  # late completion of a revoked partition: ignored
    assert tracker.to_commit() == {"p1": 6}


def test_full_jitter_backoff_stays_under_the_exponential_cap():
    policy = RetryPolicy(base=0.5, cap=30.0)
    rng = random.Random(7)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (20, 30.0)]:
        delays = [policy.delay(failures, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range
