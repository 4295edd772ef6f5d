"""OPML feeds files, the lists feed readers export and import (OPML 2.0, http://opml.org/spec2.opml).

Every `<outline>` with an `xmlUrl` is a feed; the titles of the outlines it sits in, and its own
`category` attribute, become its tags. The XML is read with expat and any DOCTYPE or entity
declaration is refused, so an OPML file can neither expand entities nor reach for external ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from ingest.feeds_source import Entry, Problem, Source
from core.text import strip_control

if TYPE_CHECKING:
    from ingest.feeds import Feed

# Watchfloor's own per-feed knobs, as outline attributes: written by `feeds export` only where a
# feed differs from the default, so an export loads back into the same feeds.
OPTION_ATTRIBUTES = ("interval", "timeout", "max_bytes", "retries")
ID_MAX = 64
_CATEGORY_SPLIT = re.compile(r"[,/]")


class _Stop(Exception):
    """Ends the parse on something that must not be read further (a DTD, a root that is not <opml>)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


@dataclass
class _Outline:
    line: int
    attrs: dict[str, str]
    has_children: bool = False


@dataclass
class _Reader:
    path: Path
    parser: expat.XMLParserType
    stack: list[str] = field(default_factory=list)
    outlines: list[_Outline] = field(default_factory=list)  # the open ones, outermost first
    found: list[tuple[_Outline, list[str]]] = field(default_factory=list)  # feeds and their folders
    problems: list[Problem] = field(default_factory=list)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        if not self.stack and name != "opml":
            raise _Stop(line, f"root element is <{name}>, expected <opml> (an OPML feeds file)")
        self.stack.append(name)
        if name == "outline" and "body" in self.stack:
            if self.outlines:
                self.outlines[-1].has_children = True
            self.outlines.append(_Outline(line, {k.lower(): v for k, v in attrs.items()}))

    def end(self, name: str) -> None:
        self.stack.pop()
        if name != "outline" or not self.outlines or "body" not in self.stack:
            return
        outline = self.outlines.pop()
        if outline.attrs.get("xmlurl", "").strip():
            folders = [_name(o.attrs) for o in self.outlines if not o.attrs.get("xmlurl", "").strip()]
            self.found.append((outline, [f for f in folders if f]))
        elif not outline.has_children:
            label = _name(outline.attrs)
            self.problems.append(Problem(self.path, outline.line, "outline without xmlUrl" + (f": {label!r}" if label else "")))


def looks_like_opml(path: Path, data: bytes) -> bool:
    """By suffix (.opml, .xml) or by content: YAML feeds files never start with `<`."""
    return path.suffix.lower() in (".opml", ".xml") or data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def read_opml(path: Path, data: bytes) -> Source:
    """The feeds of an OPML document, each with its outline's line; every problem found."""
    parser = expat.ParserCreate()
    reader = _Reader(path, parser)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end

    def refuse(*_: object) -> None:
        raise _Stop(parser.CurrentLineNumber, "DOCTYPE and entity declarations are not allowed in a feeds file")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    source = Source()
    try:
        parser.Parse(data, True)
    except _Stop as stop:
        source.problems.append(Problem(path, stop.line, stop.message))
    except expat.ExpatError as exc:
        source.problems.append(Problem(path, exc.lineno, f"not well-formed XML: {expat.ErrorString(exc.code)} (column {exc.offset + 1})"))
    source.problems += reader.problems
    source.entries = _entries(reader.found)
    return source


def _entries(found: list[tuple[_Outline, list[str]]]) -> list[Entry]:
    """Explicit `id` attributes are kept; the others get a unique slug of the title."""
    taken = {o.attrs["id"].strip() for o, _ in found if o.attrs.get("id", "").strip()}
    entries = []
    for outline, folders in sorted(found, key=lambda f: f[0].line):
        attrs = outline.attrs
        url = attrs["xmlurl"].strip()
        feed_id = attrs.get("id", "").strip() or _unique(_slug(_name(attrs)) or _slug(_url_words(url)) or "feed", taken)
        fields: dict[str, object] = {"id": feed_id, "url": url}
        if _name(attrs):
            fields["source"] = _name(attrs)
        if attrs.get("language", "").strip():
            fields["language"] = attrs["language"].strip()
        tags = folders + [t.strip() for t in _CATEGORY_SPLIT.split(attrs.get("category", ""))]
        fields["tags"] = list(dict.fromkeys(t for t in tags if t))
        fields.update({key: attrs[key] for key in OPTION_ATTRIBUTES if key in attrs})
        entries.append(Entry("outline", outline.line, fields))
    return entries


def _name(attrs: dict[str, str]) -> str:
    return (attrs.get("title") or attrs.get("text") or "").strip()


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:ID_MAX].strip("-")


def _url_words(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc} {parts.path}"


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def write_opml(feeds: Sequence[Feed], title: str = "Watchfloor feeds") -> str:
    """OPML 2.0 for feed readers, which `load_feeds` reads back into the same feeds."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{escape(title)}</title>", "  </head>", "  <body>"]
    for feed in feeds:
        name = feed.source or feed.id
        attrs: dict[str, object] = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url, "id": feed.id}
        if feed.language:
            attrs["language"] = feed.language
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        for key in OPTION_ATTRIBUTES:
            if getattr(feed, key) != type(feed).model_fields[key].default:
                attrs[key] = getattr(feed, key)
        lines.append("    <outline " + " ".join(f"{k}={quoteattr(strip_control(str(v)))}" for k, v in attrs.items()) + "/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
