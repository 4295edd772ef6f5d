"""Small RSS and Atom documents for the ingest tests."""

from __future__ import annotations


def rss(items: list[dict], title: str = "Test Wire", language: str = "en", encoding: str = "utf-8") -> bytes:
    body = "".join(
        f"<item><guid isPermaLink=\"false\">{i['guid']}</guid><title>{i['title']}</title>"
        + (f"<link>{i['link']}</link>" if i.get("link") else "")
        + (f"<description>{i['summary']}</description>" if i.get("summary") else "")
        + (f"<pubDate>{i['date']}</pubDate>" if i.get("date") else "")
        + "</item>"
        for i in items
    )
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://wire.example/</link><description>x</description><language>{language}</language>{body}</channel></rss>"
    )
    return doc.encode(encoding)


def atom(entries: list[dict], title: str = "Atom Desk") -> bytes:
    body = "".join(
        f"<entry><id>{e['id']}</id><title type=\"html\">{e['title']}</title><link href=\"{e['link']}\"/>"
        f"<updated>{e['updated']}</updated><summary type=\"html\">{e.get('summary', '')}</summary></entry>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:test:feed</id><updated>2025-11-20T12:00:00Z</updated>{body}</feed>"
    ).encode()


def items(n: int, prefix: str = "item") -> list[dict]:
    return [
        {"guid": f"{prefix}-{i}", "title": f"{prefix} headline {i}", "link": f"https://wire.example/{prefix}/{i}",
         "summary": f"Summary of {prefix} {i}", "date": "Thu, 20 Nov 2025 10:00:00 +0200"}
        for i in range(n)
    ]
