"""Feed text is untrusted: every stage cleans it the same way before storing or showing it."""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

_WS = re.compile(r"\s+")
# Invisible characters that hide or reorder text (bidi overrides, zero-width spaces, BOM).
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_CONTROLS = dict.fromkeys(c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc" and chr(c) not in "\t\n\r")
_CONTROLS.update(_INVISIBLE)
# What, left in text after a round of stripping, means the text had been escaped once more.
_MARKUP = re.compile(r"<[A-Za-z!/?]")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_TAG = re.compile(r"<[A-Za-z!/?][^<>]*>?")
_CDATA_MARKS = re.compile(r"<!\[CDATA\[|\]\]>")
STRIP_ROUNDS = 5
_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "td", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "hr", "ul", "ol"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def unknown_decl(self, data: str) -> None:
        # A CDATA section that reached the text is the publisher's escaping mistake: its content
        # was meant as text. Kept raw, so the next round strips any markup inside it.
        if data.startswith("CDATA["):
            self.handle_data(data[6:])

    def handle_comment(self, data: str) -> None:
        # Newer Pythons report `<![CDATA[x]]>` outside foreign content as the comment `[CDATA[x]]`.
        if data.startswith("[CDATA[") and data.endswith("]]"):
            self.handle_data(data[7:-2])


def _strip_once(text: str) -> str:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def strip_html(text: str) -> str:
    """Tags out, entities decoded, script and style bodies dropped.

    Feeds often escape twice (`&lt;p&gt;` in a description), so decoding can produce new markup
    or entities; stripping repeats until the text is stable, for a bounded number of rounds.
    """
    for _ in range(STRIP_ROUNDS):
        if "<" not in text and "&" not in text:
            return text
        out = _strip_once(text)
        if out == text or not (_MARKUP.search(out) or _ENTITY.search(out)):
            return _CDATA_MARKS.sub("", out)
        text = out
    return _CDATA_MARKS.sub("", _TAG.sub("", text))  # still nesting after every round: adversarial


def strip_control(text: str) -> str:
    return text.translate(_CONTROLS)


def collapse_whitespace(text: str) -> str:
    return _WS.sub(" ", text).strip()


def cap(text: str, limit: int) -> str:
    """Truncate on a word boundary where one is near, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def clean(text: str | None, limit: int, html: bool = True) -> str:
    """The one normalisation for untrusted text: HTML out, NFC, controls out, spaces collapsed, capped."""
    if not text:
        return ""
    if html:
        text = strip_html(text)
    text = unicodedata.normalize("NFC", text)
    return cap(collapse_whitespace(strip_control(text)), limit)
