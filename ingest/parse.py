"""feedparser in, clean `RawHeadline`s out: the only place feed quirks are dealt with."""

from __future__ import annotations

import calendar
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import feedparser

from ingest.feeds import Feed
from core.contracts import RawHeadline
from core.text import clean

log = logging.getLogger(__name__)

TITLE_MAX = 500
SUMMARY_MAX = 2000
SOURCE_MAX = 200
LINK_MAX = 2048


class UnreadableFeed(Exception):
    """The body is not RSS or Atom that feedparser can make anything of."""


@dataclass
class ParsedFeed:
    headlines: list[RawHeadline] = field(default_factory=list)
    warning: str | None = None  # set for a "bozo" feed that was still readable
    skipped: int = 0  # entries with neither title nor summary


def headline_id(feed_id: str, key: str) -> str:
    """Stable across polls and restarts, so the same entry always gets the same id."""
    return hashlib.sha256(f"{feed_id}\x1f{key}".encode("utf-8")).hexdigest()[:32]


def parse_feed(body: bytes, feed: Feed, fetched: datetime, content_type: str | None = None) -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries and not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "not an RSS or Atom document"
        raise UnreadableFeed(f"unreadable feed: {_describe(reason)}")
    result = ParsedFeed()
    if parsed.bozo:
        result.warning = f"malformed feed, ingested what could be read: {_describe(parsed.bozo_exception)}"
    meta = parsed.feed
    source = clean(feed.source or meta.get("title") or feed.id, SOURCE_MAX, html=True)
    feed_language = feed.language or meta.get("language")
    by_id: dict[str, RawHeadline] = {}
    for entry in parsed.entries:
        headline = _headline(entry, feed, source, feed_language, fetched)
        if headline is None:
            result.skipped += 1
        else:
            by_id.setdefault(headline.id, headline)
    result.headlines = list(by_id.values())
    return result


def _headline(entry: Any, feed: Feed, source: str, feed_language: str | None, fetched: datetime) -> RawHeadline | None:
    title = clean(entry.get("title"), TITLE_MAX)
    summary = clean(entry.get("summary") or entry.get("description"), SUMMARY_MAX)
    if not title and not summary:
        return None
    if not title:
        title = clean(summary, TITLE_MAX)
    link = _safe_link(entry.get("link"))
    key = (entry.get("id") or "").strip() or link or title
    language = (entry.get("title_detail") or {}).get("language") or feed_language
    return RawHeadline(
        id=headline_id(feed.id, key),
        feed_id=feed.id,
        source=source,
        title=title,
        summary=summary,
        link=link,
        published=_published(entry, fetched),
        fetched=fetched,
        language=clean(language, 16, html=False).lower() or None if language else None,
    )


def _safe_link(link: str | None) -> str | None:
    """Only http(s) links survive: a `javascript:` link from a feed must never reach an alert."""
    if not link:
        return None
    link = clean(link, LINK_MAX, html=False)
    return link if link.lower().startswith(("http://", "https://")) and " " not in link else None


def _published(entry: Any, fetched: datetime) -> datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(stamp), timezone.utc)
    except (OverflowError, ValueError, TypeError):
        return None
    # A date far in the future is a broken feed clock, not news from tomorrow.
    if when > fetched + timedelta(days=1) or when.year < 1990:
        return None
    return when


def _describe(exc: object) -> str:
    text = str(exc).strip() or type(exc).__name__
    return clean(text, 300, html=False)
