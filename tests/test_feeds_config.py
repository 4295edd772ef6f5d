from pathlib import Path

import pytest

from ingest.feeds import SAMPLE_FEEDS, load_feeds
from ingest.parse import parse_feed
from core.settings import ConfigError
from datetime import datetime, timezone


def test_sample_feeds_all_parse_and_cover_rss_and_atom():
    feeds = load_feeds(SAMPLE_FEEDS)
    assert len(feeds) >= 7
    kinds = set()
    for feed in feeds:
        path = Path(feed.url[5:])
        assert path.exists(), feed.url
        body = path.read_bytes()
        kinds.add("atom" if b"<feed" in body[:500] else "rss")
        parsed = parse_feed(body, feed, datetime.now(timezone.utc))
        assert parsed.headlines, feed.id
        if feed.id != "broken-sample":
            assert parsed.warning is None, (feed.id, parsed.warning)
    assert kinds == {"rss", "atom"}


def test_defaults_apply_and_items_override(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("defaults: {interval: 30}\nfeeds:\n  - {id: a, url: 'https://a.example/rss'}\n  - {id: b, url: 'file:b.xml', interval: 5}\n")
    a, b = load_feeds(path)
    assert a.interval == 30 and b.interval == 5
    assert b.url == f"file:{tmp_path / 'b.xml'}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [{id: a}]", "url"),
        ("feeds: [{id: a, url: 'ftp://x'}]", "http"),
        ("feeds: [{id: a, url: 'http://x'}, {id: a, url: 'http://y'}]", "duplicate"),
        ("feeds: [{id: a, url: 'http://x', intervall: 5}]", "intervall"),
        ("feeds: [oops", "YAML"),
        ("nofeeds: []", "feeds"),
    ],
)
def test_bad_feeds_files_give_a_clear_error(tmp_path, text, message):
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_feeds(path)
    assert str(path) in str(info.value)
