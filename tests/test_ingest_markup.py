"""Text out of ingest carries no markup, however many times the feed escaped it: real HTTP feeds,
`ingest --once` against the real broker, and what lands on the raw topic."""

from __future__ import annotations

import html
import re

from ingest.service import run_ingest
from tests.feeds_fixtures import atom, rss
from tests.test_ingest import raw_headlines, write_feeds
from core.text import STRIP_ROUNDS, clean

MARKUP = re.compile(r"<[A-Za-z!/?]")

# (title, summary) as written inside the RSS elements -> (title, summary) published
ESCAPED = [
    (("&lt;script&gt;alert(1)&lt;/script&gt;Drone strike on Odesa", "&lt;p&gt;Port &lt;b&gt;damaged&lt;/b&gt;&lt;/p&gt;"),
     ("Drone strike on Odesa", "Port damaged")),
    (("&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; move in Kharkiv", "&amp;lt;![CDATA[&amp;lt;script&amp;gt;]]&amp;gt;"),
     ("bold move in Kharkiv", "")),
    (("<![CDATA[<script>x</script>]]>Sabotage on rail line", "<![CDATA[&lt;script&gt;steal()&lt;/script&gt;Freight halted]]>"),
     ("Sabotage on rail line", "Freight halted")),
    (("&lt;!-- tracking pixel --&gt;Talks resume in Geneva", "&lt;style&gt;p{color:red}&lt;/style&gt;Delegations meet"),
     ("Talks resume in Geneva", "Delegations meet")),
    (("5 &lt; 6 and 7 &gt; 3", "AT&amp;T and Q&amp;A report outages"),
     ("5 < 6 and 7 > 3", "AT&T and Q&A report outages")),
]
NESTED_CDATA = "<![CDATA[<![CDATA[<script>alert(2)</script>]]>]]>Nested headline"


async def test_escaped_markup_never_reaches_the_raw_topic_and_plain_text_survives(settings, feed_server, tmp_path):
    items = [{"guid": f"esc-{i}", "title": title, "summary": summary, "link": f"https://wire.example/{i}"}
             for i, ((title, summary), _) in enumerate(ESCAPED)]
    feed_server.expect_request("/rss").respond_with_data(rss(items), content_type="application/rss+xml")
    feed_server.expect_request("/atom").respond_with_data(
        atom([{"id": "urn:nested", "title": NESTED_CDATA, "link": "https://atom.example/n", "updated": "2025-11-20T09:30:00Z",
               "summary": "<![CDATA[&lt;![CDATA[&lt;script&gt;]]&gt;]]>"}]),
        content_type="application/atom+xml",
    )
    path = write_feeds(tmp_path, [{"id": "wire", "url": feed_server.url_for("/rss")},
                                  {"id": "desk", "url": feed_server.url_for("/atom")}])
    results = await run_ingest(settings, path, once=True)
    assert {r.feed_id: r.new for r in results} == {"wire": len(ESCAPED), "desk": 1}

    landed = await raw_headlines(settings)
    for headline in landed:
        for text in (headline.title, headline.summary, headline.source):
            assert not MARKUP.search(text), (headline.feed_id, text)
            assert not re.search(r"script|alert\(|steal|color:red|pixel|CDATA", text, re.I), (headline.feed_id, text)
    wire = sorted((h.title, h.summary) for h in landed if h.feed_id == "wire")
    assert wire == sorted(published for _, published in ESCAPED)
    (nested,) = [h for h in landed if h.feed_id == "desk"]
    assert (nested.title, nested.summary) == ("Nested headline", "")


def test_layers_of_escaping_are_undone_up_to_a_bound_and_never_leave_markup():
    text = "<script>alert(1)</script>Kherson &amp; Mykolaiv"
    for _ in range(STRIP_ROUNDS - 1):
        text = html.escape(text, quote=False)
    assert clean(text, 200) == "Kherson & Mykolaiv"
    deeper = text
    for _ in range(50):
        deeper = html.escape(deeper, quote=False)
    assert not MARKUP.search(clean(deeper * 100, 100_000))  # bounded work, still no markup
