"""An Alert rendered for one kind of channel. Alert text is feed text: untrusted, cleaned but not
escaped (see core.contracts.Alert). Each kind escapes it for its own markup, so a headline
can never mention `@channel` in Slack or inject HTML into an email.

How the result reaches the channel matters as much as the escaping (Apprise converts between
formats per plugin; see docs/notifiers.md):

- Slack: the body is CommonMark with every feed character escaped, declared as MARKDOWN. Apprise's
  Slack plugin translates it into Slack mrkdwn (`&` `<` `>` as entities, `[text](<url>)` as
  `<url|text>`) in both its legacy and Block Kit payloads. Handing Apprise finished mrkdwn does not
  work: undeclared (passthrough) bodies are escaped again in legacy mode, so `&amp;` would arrive
  as `&amp;amp;`.
- Email: HTML declared as HTML, so Apprise passes it through; it derives the text/plain part from
  it and drops every `href` on the way. So each report link is followed by its URL in a span hidden
  from display (`display:none`): the HTML reads as before, the text/plain part keeps every URL.
- json:// and jsons://: the plain-text body, plus the alert's fields as one `alert` object in the
  JSON payload (Apprise's JSON payload extras; see notifiers.channels and docs/notifiers.md).
- Everything else: plain text declared as TEXT; Apprise escapes it for plugins that want HTML or
  Markdown.
- Titles are plain text everywhere; the Slack plugin escapes its title field itself.
"""

from __future__ import annotations

import dataclasses
import enum
import html
import logging
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from apprise import NotifyFormat, NotifyType

from rules.places.gazetteer import map_url, place_label
from core.contracts import Alert, Place
from core.text import clean, strip_control

log = logging.getLogger("watchfloor.notify")

TITLE_MAX = 300
SUMMARY_MAX = 1000
REPORT_LINES = 10
REPORT_TITLE_MAX = 300
SOURCE_MAX = 100
URL_MAX = 2000
LIST_MAX = 300  # categories, matched terms
OLD_NEWS = timedelta(hours=1)  # a report published this long before we first saw it is said to be old
TEMPLATE_MAX = 4000

TEMPLATE_FIELDS = frozenset({"title", "summary", "severity", "rule_id", "source_count", "story_count", "categories", "links",
                             "place", "where", "rules", "languages", "changes", "events"})
MAX_PLACES_SHOWN = 3

_NOTIFY_TYPES = {
    "info": NotifyType.INFO,
    "low": NotifyType.INFO,
    "medium": NotifyType.WARNING,
    "high": NotifyType.WARNING,
    "critical": NotifyType.FAILURE,
}

# Characters left as they are by urllib.parse.quote when a link is normalised: reserved and
# unreserved characters and `%` (existing escapes). Spaces, quotes, `<`, `>`, `|`, `\`, `^`,
# backticks and braces get percent-encoded, so no link can close Slack's `<url|text>` or an
# HTML attribute early.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"

# CommonMark punctuation Apprise's Slack dialect would act on: `<` `>` (it emits entities for the
# escaped forms), `[ ] ( ) ! #` (links, headings: emitted bare once escaped), `*` (emphasis) and
# the backslash itself. `&` needs nothing: the dialect always emits `&amp;`.
_SLACK_SPECIAL = re.compile(r"([\\<>\[\]()!#*])")

# Hidden in mail clients (`mso-hide` for Outlook's Word engine), kept by Apprise's HTML -> text
# conversion, which ignores CSS: how a link's URL reaches the text/plain part of an email.
_PLAIN_ONLY = '<span style="display:none;mso-hide:all"> &lt;{}&gt;</span>'

# The key of the alert's fields in a json:// payload (next to Apprise's version/title/message/type).
WEBHOOK_KEY = "alert"


class Kind(str, enum.Enum):
    """What markup a channel gets."""

    SLACK = "slack"
    EMAIL = "email"
    TEXT = "text"
    JSON = "json"  # plain text, plus the alert's fields in the payload


def kind_for_url(url: str) -> Kind:
    """By the Apprise URL scheme: slack:// gets mrkdwn, mailto(s):// HTML, json(s):// plain text
    plus the alert's fields, the rest plain text."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "slack":
        return Kind.SLACK
    if scheme in ("mailto", "mailtos"):
        return Kind.EMAIL
    if scheme in ("json", "jsons"):
        return Kind.JSON
    return Kind.TEXT


@dataclass(frozen=True)
class Message:
    """What one channel is sent: arguments of Apprise's notify(), and for json:// channels the
    payload extras (keys added to the JSON document) that carry the alert's fields."""

    title: str
    body: str
    body_format: NotifyFormat
    notify_type: NotifyType
    payload_extras: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None  # email only: threading headers (see thread_headers)


@dataclass(frozen=True)
class Link:
    source: str
    title: str
    url: str | None
    language: str | None = None


class TemplateError(ValueError):
    """The alert's template cannot be rendered; the default layout is used instead."""


# --- escaping -------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Feed text as CommonMark that Apprise's Slack dialect turns back into the same literal text."""
    return _SLACK_SPECIAL.sub(r"\\\1", text)


def html_escape(text: str) -> str:
    return html.escape(text, quote=True)


def text_escape(text: str) -> str:
    return text


_ESCAPE = {Kind.SLACK: slack_escape, Kind.EMAIL: html_escape, Kind.TEXT: text_escape, Kind.JSON: text_escape}


def safe_url(url: str | None) -> str | None:
    """An http(s) URL with the characters that could break out of a link percent-encoded, or None."""
    if not url:
        return None
    url = strip_control(url).strip()
    if not url or len(url) > URL_MAX:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url, safe=_URL_SAFE)


# --- the alert's parts, cleaned -------------------------------------------------------------


def alert_title(alert: Alert) -> str:
    return clean(alert.title, TITLE_MAX, html=False) or alert.rule_id


def message_title(alert: Alert) -> str:
    """Plain in every channel (email subject, Slack title, JSON title): "[SEVERITY] title"."""
    return f"[{alert.severity.upper()}] {alert_title(alert)}"


def links(alert: Alert) -> tuple[list[Link], int]:
    """At most REPORT_LINES reports (a summary: its events), and how many more there were."""
    if alert.kind == "summary" and alert.events:
        out = [
            Link(
                source=clean(e.place, PLACE_MAX, html=False) if e.place else "no place named",
                title=clean(f"{e.title} ({_sources(e.source_count)})", REPORT_TITLE_MAX, html=False),
                url=safe_url(e.link),
            )
            for e in alert.events[:REPORT_LINES]
        ]
        return out, max(0, len(alert.events) - REPORT_LINES)
    out = [
        Link(
            source=clean(r.source, SOURCE_MAX, html=False) or "unknown source",
            title=clean(r.title, REPORT_TITLE_MAX, html=False),
            url=safe_url(r.link),
            language=clean(r.language, 8, html=False) if r.language else None,
        )
        for r in alert.reports[:REPORT_LINES]
    ]
    return out, max(0, len(alert.reports) - REPORT_LINES)


def thread_headers(alert: Alert) -> dict[str, str]:
    """Email threading: every message of one event names the same root in References, and an
    update replies to it, so mail clients that thread by reference (Thunderbird, Apple Mail) show
    the first alert and its updates as one conversation (Outlook and Gmail also go by subject)."""
    if not alert.event_id:
        return {}
    event = re.sub(r"[^0-9A-Za-z]", "", alert.event_id)[:64]  # from the topic: never a header's CR/LF
    root = f"<{event}@watchfloor.event>"
    headers = {"References": root, "X-Watchfloor-Event": event}
    if alert.kind == "update":
        headers["In-Reply-To"] = root
    return headers


def _list(values: list[str]) -> str:
    return clean(", ".join(values), LIST_MAX, html=False)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _sources(n: int) -> str:
    return f"{n} source" if n == 1 else f"{n} sources"


# --- per-kind blocks --------------------------------------------------------------------------


def _links_block(kind: Kind, items: list[Link], more: int) -> str:
    esc = _ESCAPE[kind]
    if kind is Kind.EMAIL:
        if not items:
            return ""
        lines = []
        for link in items:
            text = esc(link.title or link.url or "")
            inner = f'<a href="{html_escape(link.url)}">{text}</a>' if link.url else text
            if link.url and link.title:  # a link shown by its title: its URL for the text/plain part
                inner += _PLAIN_ONLY.format(html_escape(link.url))
            lang = f" ({esc(link.language)})" if link.language else ""
            lines.append(f"<li>{esc(link.source)}{lang}: {inner}</li>")
        if more:
            lines.append(f"<li>and {more} more</li>")
        return "<ul>" + "".join(lines) + "</ul>"
    lines = []
    for link in items:
        if kind is Kind.SLACK:
            text = esc(link.title or link.url or "")
            inner = f"[{text}](<{link.url}>)" if link.url else text
            lang = f" ({esc(link.language)})" if link.language else ""
            lines.append(f"• {esc(link.source)}{lang}: {inner}")
        else:
            tail = f" — {link.url}" if link.url else ""
            lang = f" ({link.language})" if link.language else ""
            lines.append(f"- {link.source}{lang}: {link.title}{tail}")
    if more:
        lines.append(f"{'•' if kind is Kind.SLACK else '-'} and {more} more")
    return "\n".join(lines)


PLACE_MAX = 120


def _label(place: Place) -> str:
    """"Ternopil, Ukraine", cleaned like feed text: a place on the alerts topic may come from any producer."""
    return clean(place_label(place.name, place.kind, place.country), PLACE_MAX, html=False)


def _where_block(alert: Alert, kind: Kind) -> str:
    """"Where: Ternopil, Ukraine (map) · Kharkiv, Ukraine": each place linked to OpenStreetMap."""
    esc = _ESCAPE[kind]
    parts = []
    for p in alert.places[:MAX_PLACES_SHOWN]:
        label, url = esc(_label(p)), map_url(p.lat, p.lon, p.kind)
        if kind is Kind.EMAIL:
            parts.append(f'<a href="{html_escape(url)}">{label}</a>' + _PLAIN_ONLY.format(html_escape(url)))
        elif kind is Kind.SLACK:
            parts.append(f"[{label}](<{url}>)")
        else:
            parts.append(f"{label} ({url})")
    return ("Where: " + " · ".join(parts)) if parts else ""


def template_values(alert: Alert, kind: Kind) -> dict[str, str]:
    """The named template fields, already escaped for `kind`."""
    esc = _ESCAPE[kind]
    items, more = links(alert)
    return {
        "title": esc(alert_title(alert)),
        "summary": esc(clean(alert.summary, SUMMARY_MAX, html=False)),
        "severity": esc(alert.severity.upper()),
        "rule_id": esc(clean(alert.rule_id, 200, html=False)),
        "source_count": str(alert.source_count),
        "story_count": str(alert.story_count),
        "categories": esc(_list(alert.categories)),
        "links": _links_block(kind, items, more),
        "place": esc(_label(alert.places[0])) if alert.places else "",
        "where": _where_block(alert, kind),
        "rules": esc(_list(alert.rules or [alert.rule_id])),
        "languages": esc(_list(alert.languages)),
        "changes": esc(clean("; ".join(alert.changes), LIST_MAX, html=False)),
        "events": str(len(alert.events)),
    }


def _literal(kind: Kind, text: str) -> str:
    """Template text outside the fields is plain text written by the operator, escaped like feed text
    (a template is shared by every channel, so it cannot carry one channel's markup)."""
    text = strip_control(text)
    if kind is Kind.EMAIL:
        return html_escape(text).replace("\n", "<br>\n")
    if kind is Kind.SLACK:
        return slack_escape(text)
    return text


def parse_template(template: str) -> list[tuple[str, str | None]]:
    """(literal, field) pairs; raises TemplateError for unknown fields, attribute or index access,
    conversions and format specs (a spec like `{title:>999999999}` could allocate gigabytes)."""
    if len(template) > TEMPLATE_MAX:
        raise TemplateError(f"template longer than {TEMPLATE_MAX} characters")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    out: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if field is not None:
            if field not in TEMPLATE_FIELDS:
                raise TemplateError(f"unknown field {{{field}}}; known: " + ", ".join(sorted(TEMPLATE_FIELDS)))
            if spec or conversion:
                raise TemplateError(f"field {{{field}}} has a conversion or format spec; only plain {{name}} is supported")
        out.append((literal, field))
    return out


def render_template(parsed: list[tuple[str, str | None]], alert: Alert, kind: Kind) -> str:
    values = template_values(alert, kind)
    return "".join(_literal(kind, literal) + (values[field] if field else "") for literal, field in parsed)


# --- default layouts --------------------------------------------------------------------------


def _headline(alert: Alert, v: dict[str, str], bold: tuple[str, str] = ("", "")) -> str:
    rules = alert.rules or [alert.rule_id]
    parts = [f"{bold[0]}{v['severity']}{bold[1]}", f"{'rules' if len(rules) > 1 else 'rule'} {v['rules']}"]
    if alert.kind == "summary":
        parts.append(f"{alert.story_count} events")
    else:
        parts.append(_sources(alert.source_count))
        if alert.languages:
            parts.append(f"in {v['languages']}")
    return " · ".join(parts)


def _changes_block(alert: Alert, kind: Kind) -> str:
    """An update's first lines: what changed since the last message about the event."""
    if not alert.changes:
        return ""
    esc = _ESCAPE[kind]
    items = [esc(clean(c, 200, html=False)) for c in alert.changes[:10]]
    if kind is Kind.EMAIL:
        return "<p><strong>What changed:</strong></p><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    return "What changed: " + "; ".join(items)


def _footer(alert: Alert, kind: Kind) -> str:
    esc = _ESCAPE[kind]
    parts = []
    if alert.categories:
        parts.append("Categories: " + esc(_list(alert.categories)))
    if alert.matched:
        parts.append("matched: " + esc(_list(alert.matched)))
    published = min((r.published for r in alert.reports if r.published), default=None)
    # a feed's backlog or a late feed: the officer must not read yesterday's strike as tonight's
    old = published is not None and alert.first_seen - published > OLD_NEWS
    lead = f"Published {_when(published)} · first seen" if old else "First seen"
    timing = f"{lead} {_when(alert.first_seen)} · fired {_when(alert.fired)}"
    return " · ".join(parts) + ("\n" if parts else "") + timing


def default_body(alert: Alert, kind: Kind) -> str:
    v = template_values(alert, kind)
    if kind is Kind.EMAIL:
        footer = _footer(alert, kind).replace("\n", "<br>")
        summary = f"<p>{v['summary']}</p>" if v["summary"] else ""
        return (
            '<html><body style="font-family: sans-serif">'
            f"<h2>{v['title']}</h2>"
            f"<p>{_headline(alert, v, ('<strong>', '</strong>'))}</p>"
            + _changes_block(alert, kind)
            + (f"<p>{v['where']}</p>" if v["where"] else "") +
            f"{summary}{v['links']}"
            f'<p style="color: #666">{footer}</p>'
            "</body></html>"
        )
    bold = ("**", "**") if kind is Kind.SLACK else ("", "")
    blocks = [_headline(alert, v, bold), _changes_block(alert, kind), v["where"], v["summary"], v["links"],
              _footer(alert, kind)]
    return "\n".join(b for b in blocks if b)


_FORMATS = {Kind.SLACK: NotifyFormat.MARKDOWN, Kind.EMAIL: NotifyFormat.HTML, Kind.TEXT: NotifyFormat.TEXT,
            Kind.JSON: NotifyFormat.TEXT}


def _utc_text(value: datetime | None) -> str | None:
    """RFC 3339 UTC with a `Z`, as on the topics."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def webhook_fields(alert: Alert) -> dict[str, Any]:
    """The alert as a json:// receiver gets it (docs/notifiers.md): machine-readable fields, so a
    downstream system never has to parse the text body. Feed text is cleaned and capped as for
    every channel; JSON encoding is its only escaping. Links are http(s) only, else null."""
    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "severity": alert.severity,
        "title": alert_title(alert),
        "summary": clean(alert.summary, SUMMARY_MAX, html=False),
        "categories": list(alert.categories),
        "matched": list(alert.matched),
        "source_count": alert.source_count,
        "story_count": alert.story_count,
        "story_id": alert.story_id,
        "kind": alert.kind,
        "event_id": alert.event_id,
        "rules": list(alert.rules or [alert.rule_id]),
        "languages": list(alert.languages),
        "changes": [clean(c, 200, html=False) for c in alert.changes],
        "update_of": alert.update_of,
        "casualties": alert.casualties.model_dump() if alert.casualties else None,
        "events": [{"id": e.id, "title": clean(e.title, REPORT_TITLE_MAX, html=False),
                    "place": clean(e.place, PLACE_MAX, html=False) if e.place else None, "url": safe_url(e.link),
                    "source_count": e.source_count, "first_seen": _utc_text(e.first_seen)} for e in alert.events],
        "group_by": alert.group_by,
        "group": alert.group,
        "first_seen": _utc_text(alert.first_seen),
        "fired": _utc_text(alert.fired),
        "rules_version": alert.rules_version,
        "places": [{**p.model_dump(), "name": clean(p.name, PLACE_MAX, html=False), "label": _label(p),
                    "map": map_url(p.lat, p.lon, p.kind)} for p in alert.places],
        "links": [
            {
                "title": clean(r.title, REPORT_TITLE_MAX, html=False),
                "source": clean(r.source, SOURCE_MAX, html=False) or "unknown source",
                "url": safe_url(r.link),
                "published": _utc_text(r.published),
                "language": r.language,
            }
            for r in alert.reports
        ],
    }


class AlertRenderer:
    """Renders one alert for each kind of channel it goes to, once per kind; checks the template
    once, so a bad template logs one warning per alert, not one per channel."""

    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self._cache: dict[Kind, Message] = {}
        self.template: list[tuple[str, str | None]] | None = None
        if alert.template:
            try:
                self.template = parse_template(alert.template)
            except TemplateError as exc:
                log.warning(
                    "alert template unusable, using the default layout: %s",
                    exc,
                    extra={"alert": alert.id, "rule": alert.rule_id},
                )

    def message(self, kind: Kind) -> Message:
        if kind not in self._cache:
            if kind is Kind.JSON:  # the plain-text message, with the fields beside it
                extras = {WEBHOOK_KEY: webhook_fields(self.alert)}
                self._cache[kind] = dataclasses.replace(self.message(Kind.TEXT), payload_extras=extras)
                return self._cache[kind]
            alert = self.alert
            if self.template is not None and alert.kind != "update":  # an update says what changed
                body = render_template(self.template, alert, kind)
                if kind is Kind.EMAIL:
                    body = f'<html><body style="font-family: sans-serif"><div>{body}</div></body></html>'
            else:
                body = default_body(alert, kind)
            if not body.strip():
                body = _ESCAPE[kind](alert_title(alert))
            self._cache[kind] = Message(
                title=message_title(alert),
                body=body,
                body_format=_FORMATS[kind],
                notify_type=_NOTIFY_TYPES.get(alert.severity, NotifyType.INFO),
                headers=thread_headers(alert) if kind is Kind.EMAIL else None,
            )
        return self._cache[kind]


def render(alert: Alert, kind: Kind) -> Message:
    """One-off rendering (tests, `notify --test`); the service uses AlertRenderer."""
    return AlertRenderer(alert).message(kind)
