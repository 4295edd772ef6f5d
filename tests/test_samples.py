"""The shipped sample feeds with the shipped rules: what a newcomer sees in the quick start."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ingest.feeds import SAMPLE_FEEDS, load_feeds
from ingest.parse import parse_feed
from rules.routing import concerned_rules
from processors.classify import classify_headline
from rules.loader import load_rules

# Items written to look dangerous to a keyword matcher but that must never alert.
UNRELATED = [
    "40% off camera drones", "striker’s late strike", "Bowling: perfect strike", "Attack-minded Arsenal",
    "queen sacrifice attack", "spy film", "spy comedy", "sabotaged his own campaign", "Bomb deals",
    "Delivery-drone startup", "Trade talks: chipmaker", "Car plant workers vote to extend strike",
    "hunger strike", "Currency exchange", "Cruise line", "Shipping group", "Heritage railway",
    "Hedge truce", "Laser-maker", "Fire sale", "Футбол: удар", "Погода",
]


def sample_headlines():
    now = datetime.now(timezone.utc)
    for feed in load_feeds(SAMPLE_FEEDS):
        yield from parse_feed(Path(feed.url[5:]).read_bytes(), feed, now).headlines


def test_unrelated_sample_items_never_classify_or_alert():
    ruleset = load_rules()
    seen = set()
    for h in sample_headlines():
        for marker in UNRELATED:
            if marker.lower() in h.title.lower():
                seen.add(marker)
                out = classify_headline(h, ruleset)
                assert out.categories == [], (h.title, out.categories)
                assert concerned_rules(ruleset, out) == []
    assert seen == set(UNRELATED), f"markers not found in the samples: {set(UNRELATED) - seen}"


def test_every_sample_story_of_the_brief_is_classified():
    ruleset = load_rules()
    by_category: dict[str, list[str]] = {}
    for h in sample_headlines():
        for c in classify_headline(h, ruleset).categories:
            by_category.setdefault(c.id, []).append(h.title)
    expect = {
        "airstrike": "Ternopil", "maritime_espionage": "Yantar", "diplomacy": "peace plan", "sabotage": "Warsaw–Lublin",
        "nuclear_safety": "Zaporizhzhia nuclear plant", "military_aid": "Ukraine", "prisoner_exchange": "prisoner exchange",
        "war_crimes": "Pokrovsk",
    }
    for category, needle in expect.items():
        assert any(needle.lower() in t.lower() for t in by_category.get(category, [])), (category, by_category.get(category))
