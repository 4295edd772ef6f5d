"""The sample feeds of the quick start, in any polling order: one alert per event. The reports
are classified, placed and grouped by the shipped rules and the alert stage's engine, as live
(offline: no broker needed to judge the decisions)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alerting.engine import AlertEngine
from alerting.state import AlertState
from ingest.feeds import load_feeds
from ingest.parse import parse_feed
from processors.classify import classify_headline
from rules.loader import load_rules
from rules.routing import alert_work

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "ingest" / "samples"
FETCHED = datetime(2025, 11, 21, 20, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sample_reports():
    packs = load_rules(ROOT / "rules" / "packs")
    raw = []
    for feed in load_feeds(SAMPLES / "feeds.yaml"):
        raw += parse_feed((SAMPLES / feed.url.removeprefix("file:")).read_bytes(), feed, FETCHED).headlines
    return packs, raw


def first_alerts(packs, raw, seed: int) -> list:
    """A quick start whose feeds were polled in another order: the reports arrive shuffled, a
    fifth of a second apart, and the group wait passes."""
    order = list(raw)
    random.Random(seed).shuffle(order)
    engine, state, alerts = AlertEngine(packs), AlertState(), []
    t = FETCHED
    for i, item in enumerate(order):
        h = classify_headline(item, packs, now=t + timedelta(seconds=i * 0.2))
        work = alert_work(packs, h)  # what the classify stage hands on
        if work is not None:
            alerts += engine.step(state, h, [r.id for r in work], h.classified.timestamp()).alerts
    alerts += engine.flush(state, (t + timedelta(hours=1)).timestamp()).alerts
    return [a for a in alerts if a.kind == "alert"]


@pytest.mark.parametrize("seed", range(40))  # 9, 10, 17, 19 and 22 sent two Ternopil alerts before merging
def test_each_sample_event_alerts_once_whatever_the_polling_order(sample_reports, seed):
    packs, raw = sample_reports
    alerts = first_alerts(packs, raw, seed)
    ternopil = [a for a in alerts if any(p.name == "Ternopil" for p in a.places[:1])]
    assert len(ternopil) == 1 and ternopil[0].source_count >= 6 and set(ternopil[0].languages) == {"en", "uk"}
    sabotage = [a for a in alerts if "sabotage" in a.categories and a.places and a.places[0].country == "PL"]
    assert len(sabotage) == 1 and sorted(sabotage[0].rules) == ["confirmed-developments", "kinetic-and-hybrid"]
    lasers = [a for a in alerts if "laser" in a.title.lower()]
    assert len(lasers) == 1 and lasers[0].source_count == 5
    exchange = [a for a in alerts if "prisoner_exchange" in a.categories]
    assert len(exchange) == 1 and not any("28-point" in r.title for r in exchange[0].reports)  # talks in one capital
    # 21 before events, for about a dozen events; since reports are compared by meaning across
    # languages, "European leaders reject punitive terms of US-backed peace plan" and its Ukrainian
    # telling are one event with two sources, which `confirmed-developments` alerts
    assert 10 <= len(alerts) <= 14, [a.title for a in alerts]
    europe = [a for a in alerts if "European leaders" in a.title]
    assert len(europe) == 1 and set(europe[0].languages) == {"en", "uk"}
