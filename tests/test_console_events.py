"""The console's events in a real headless browser (Debian's chromium through Selenium) on the real
broker: event states produced to `<prefix>.events` (a compacted topic, a newer state of an event
replacing the older) are one card and one square marker per event, updated in place as newer
states come; their feed text stays text. Also what of an event reaches the page.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import httpx

from core.contracts import Casualties, Event
from core.topics import Topics, ensure_topics
from tests.kafka_helpers import produce
from tests.test_console import browser, needs_browser, start_console, stop, texts, wait_until  # noqa: F401 (fixture)
from tests.test_console_map import HOSTILE, KHARKIV, KYIV, TERNOPIL, UKRAINE, WARSAW, event, open_popup
from watchfloor.console.live import brief_event

NOW = datetime.now(timezone.utc)


def record(ev: Event) -> tuple[bytes, bytes]:
    return ev.id.encode(), ev.to_bytes()


def event_markers(driver) -> list:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#map .wf-event[data-kind=event]")


def cards(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """The event cards' ids, top first (read in one go: a card being replaced would be stale)."""
    return driver.execute_script("return [...document.querySelectorAll('#events li')].map((li) => li.dataset.id)")


def card_text(driver, event_id: str) -> str:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'#events li[data-id="{event_id}"]').text


TERNOPIL_TITLE = "Missile strike on Ternopil apartment blocks kills dozens"


@needs_browser
async def test_events_are_cards_and_markers_updated_in_place(settings, rules_dir, cli_env, tmp_path, browser):
    from selenium.webdriver.common.by import By

    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, topics.specs())
    ternopil_1 = event("ev-ternopil", TERNOPIL_TITLE, [TERNOPIL, UKRAINE], 2, ["en"], NOW - timedelta(minutes=30),
                       NOW - timedelta(minutes=29))
    warsaw = event("ev-warsaw", "Poland detains suspects over rail sabotage", [WARSAW], 3, ["en", "pl"],
                   NOW - timedelta(minutes=10), NOW - timedelta(minutes=9), categories=("sabotage",))
    ternopil_2 = event("ev-ternopil", TERNOPIL_TITLE, [TERNOPIL, UKRAINE], 5, ["en", "uk", "ru"], NOW - timedelta(minutes=5),
                       NOW - timedelta(minutes=4), alerts=("a1",), casualties=Casualties(killed=26))
    stale = event("ev-stale", "Last week's strike", [KHARKIV], 4, ["en"], NOW - timedelta(hours=31), NOW - timedelta(hours=30))
    await produce(settings, topics.events, [record(ternopil_1), record(warsaw), record(ternopil_2), record(stale)])
    console, url = start_console(cli_env, tmp_path, rules_dir, None)
    try:
        # the state holds each event once, at its newest version, newest first; the stale one is out of the window
        state = httpx.get(f"{url}/api/state").json()
        assert [(e["id"], e["sources"]) for e in state["events"]] == [("ev-ternopil", 5), ("ev-warsaw", 3)]
        ternopil = state["events"][0]
        assert ternopil["languages"] == ["en", "uk", "ru"] and ternopil["alerted"] and ternopil["updates"] == 0
        assert ternopil["casualties"] == {"killed": 26} and ternopil["places"][0]["name"] == "Ternopil"

        browser.get(url)
        wait_until(browser, lambda d: len(cards(d)) == 2 and len(event_markers(d)) == 2, 30, "2 event cards and 2 markers")
        assert cards(browser) == ["ev-ternopil", "ev-warsaw"]
        text = card_text(browser, "ev-ternopil")
        assert TERNOPIL_TITLE in text and "Ternopil, UA" in text and "airstrike" in text
        assert "5 sources · en, uk, ru" in text and "6 reports" in text and "26 killed" in text and "alerted" in text
        assert "not alerted" in card_text(browser, "ev-warsaw") and "3 sources · en, pl" in card_text(browser, "ev-warsaw")
        link = browser.find_element(By.CSS_SELECTOR, '#events li[data-id="ev-ternopil"] .ev-title a')
        assert link.get_attribute("href") == "https://wire.example/first"
        assert browser.find_element(By.ID, "map-count").text == "0 headlines, 0 alerts, 2 events placed"

        # a square with its number of sources, at its first place, not a headline dot or alert ring
        square = browser.find_element(By.CSS_SELECTOR, '#map .wf-event[data-id="ev-ternopil"]')
        assert square.text == "5" and square.get_attribute("data-place") == "Ternopil, UA" and square.tag_name == "div"
        assert abs(square.rect["width"] - square.rect["height"]) < 1 and not browser.find_elements(By.CSS_SELECTOR, "#map path.wf-marker")
        text = open_popup(browser, square)
        assert TERNOPIL_TITLE in text and "5 sources · en, uk, ru" in text and "Ternopil, UA" in text

        # live: a newer state of an event updates its card and marker in place, moving it to the top
        # (the list is by latest report: the two records sit on two partitions, read in either order);
        # a new event's hostile markup and javascript: link stay text
        hostile = event("ev-kyiv", HOSTILE, [KYIV], 1, ["uk"], NOW - timedelta(minutes=2), NOW - timedelta(minutes=2),
                        link="javascript:alert(1)")
        ternopil_3 = event("ev-ternopil", TERNOPIL_TITLE, [TERNOPIL, UKRAINE], 9, ["en", "uk", "ru"],
                           NOW - timedelta(minutes=1), NOW, alerts=("a1", "a2", "a3"), casualties=Casualties(killed=31, injured=120))
        await produce(settings, topics.events, [record(ternopil_3)])
        # the console's own state first, then the page: a failure says which side missed it
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/api/state").json()["events"][0]["sources"] != 9:
            assert time.monotonic() < deadline, ("the console never read the update",
                                                 [p.read_text()[-2000:] for p in tmp_path.glob("console-*.log")])
            await asyncio.sleep(0.2)
        wait_until(browser, lambda d: "9 sources" in card_text(d, "ev-ternopil"), 30, "the updated card")
        await produce(settings, topics.events, [record(hostile)])  # arrives later, its last report is older
        wait_until(browser, lambda d: cards(d) == ["ev-ternopil", "ev-kyiv", "ev-warsaw"], 30, "the live cards")
        text = card_text(browser, "ev-ternopil")
        assert "9 sources · en, uk, ru" in text and "31 killed, 120 injured" in text and "alerted, 2 updates" in text
        assert "5 sources" not in " ".join(texts(browser, "#events li"))
        wait_until(browser, lambda d: len(event_markers(d)) == 3, 30, "3 event markers")
        assert [m.text for m in event_markers(browser) if m.get_attribute("data-id") == "ev-ternopil"] == ["9"]
        text = open_popup(browser, browser.find_element(By.CSS_SELECTOR, '#map .wf-event[data-id="ev-ternopil"]'))
        assert "9 sources" in text and "alerted, 2 updates" in text

        assert HOSTILE in card_text(browser, "ev-kyiv")
        assert not browser.find_elements(By.CSS_SELECTOR, '#events img, #events li[data-id="ev-kyiv"] a')
        text = open_popup(browser, browser.find_element(By.CSS_SELECTOR, '#map .wf-event[data-id="ev-kyiv"]'))
        assert HOSTILE in text and not browser.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content a, .leaflet-popup-content img")
        assert browser.execute_script("return window.pwned") is None and browser.title == "Watchfloor console"

        # an event merged into another (a report showed them one happening) leaves the list and the map:
        # the survivor names it in `merged`, and the alert stage deletes it with a tombstone
        other = event("ev-ternopil-b", "Ракетний удар по Тернополю", [TERNOPIL, UKRAINE], 1, ["uk"],
                      NOW - timedelta(seconds=30), NOW - timedelta(seconds=30))
        await produce(settings, topics.events, [record(other)])
        # the list is by latest report, newest first, whichever partition is read first
        wait_until(browser, lambda d: cards(d) == ["ev-ternopil-b", "ev-ternopil", "ev-kyiv", "ev-warsaw"]
                   and len(event_markers(d)) == 4, 30, "the other event")
        survivor = ternopil_3.model_copy(update={"merged": ["ev-ternopil-b"], "updated": NOW + timedelta(seconds=1)})
        await produce(settings, topics.events, [record(survivor), (b"ev-ternopil-b", None)])
        wait_until(browser, lambda d: cards(d) == ["ev-ternopil", "ev-kyiv", "ev-warsaw"] and len(event_markers(d)) == 3, 30,
                   "the merged event gone")

        # a reload shows the same, from the state
        browser.refresh()
        wait_until(browser, lambda d: cards(d) == ["ev-ternopil", "ev-kyiv", "ev-warsaw"] and len(event_markers(d)) == 3, 30,
                   "the cards after a reload")
        assert "9 sources · en, uk, ru" in card_text(browser, "ev-ternopil")
    finally:
        stop(console)


def test_what_of_an_event_reaches_the_page():
    ev = json.loads(event("e1", "Strike", [TERNOPIL], 3, ["en", "uk"], NOW, NOW, alerts=("a1", "a2"),
                          link="javascript:alert(1)").to_bytes())
    brief = brief_event(ev)
    assert brief is not None
    assert brief["link"] == "https://wire.example/e1/1"  # the first http(s) link of its reports
    assert (brief["sources"], brief["reports"], brief["alerted"], brief["updates"]) == (3, 4, True, 1)
    assert brief["places"] == [TERNOPIL] and brief["casualties"] is None

    hostile = {**ev, "title": "T" * 5000, "severity": "<b>", "source_count": True, "report_count": -1,
               "languages": ["en" * 50, 7, None], "categories": "airstrike", "reports": {"link": "https://x"},
               "casualties": {"killed": "12", "injured": 3}, "alerts": "a1",
               "places": [{"name": "Mars", "lat": 91, "lon": 0}]}
    brief = brief_event(hostile)
    assert brief is not None and len(brief["title"]) == 500 and brief["severity"] == "info"
    assert (brief["sources"], brief["reports"], brief["alerted"], brief["updates"]) == (0, 0, False, 0)
    assert brief["languages"] == ["en" * 5] and brief["categories"] == [] and brief["link"] is None
    assert brief["casualties"] == {"injured": 3} and brief["places"] == []
    assert brief_event({**ev, "id": None}) is None and brief_event({**ev, "last_seen": "yesterday"}) is None


def test_the_window_is_when_the_service_wrote_an_event_not_when_its_news_was_published():
    """A feed's backlog or the quick start's samples (November 2025) are news the floor sees today:
    an event the alert stage wrote an hour ago is in the list, however old its reports; one it last
    wrote two days ago is not."""
    from watchfloor.console.live import LiveView

    view = LiveView()
    ts = int(NOW.timestamp() * 1000)
    old_news = event("ev-old-news", TERNOPIL_TITLE, [TERNOPIL], 2, ["en"], NOW - timedelta(days=400), NOW - timedelta(hours=1))
    stale = event("ev-stale", "Ракетний удар по Тернополю", [TERNOPIL], 1, ["uk"], NOW - timedelta(days=2), NOW - timedelta(days=2))
    view.add("events", json.loads(old_news.to_bytes()), ts)
    view.add("events", json.loads(stale.to_bytes()), ts)
    assert [e["id"] for e in view.recent_events()] == ["ev-old-news"]
    shown = brief_event(json.loads(old_news.to_bytes()))  # the map's markers leave by the same time
    assert datetime.fromisoformat(shown["time"]) == datetime.fromisoformat(shown["updated"]) > datetime.fromisoformat(shown["last_seen"])


def test_an_event_merged_into_another_leaves_the_view_whatever_order_its_states_come_in():
    from watchfloor.console.live import LiveView

    view = LiveView()
    ts = int(NOW.timestamp() * 1000)
    early = event("ev-b", "Ракетний удар по Тернополю", [TERNOPIL], 1, ["uk"], NOW, NOW)
    survivor = event("ev-a", TERNOPIL_TITLE, [TERNOPIL], 3, ["en", "uk"], NOW, NOW).model_copy(update={"merged": ["ev-b"]})
    view.add("events", json.loads(early.to_bytes()), ts)
    view.add("events", json.loads(survivor.to_bytes()), ts)
    assert [e["id"] for e in view.recent_events()] == ["ev-a"]
    view.add("events", json.loads(early.to_bytes()), ts)  # its partition read late: an older state of it
    assert [e["id"] for e in view.recent_events()] == ["ev-a"]


@needs_browser
async def test_a_page_left_open_shows_what_happened_while_the_console_was_down(settings, rules_dir, cli_env, tmp_path,
                                                                               browser):
    """A watch officer's tab stays open through a restart of the console: the page reconnects by
    itself, and what the topics got meanwhile (a new event, an event grown, one merged into
    another) is on it, each once, without a reload."""
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, topics.specs())
    ternopil = event("ev-ternopil", TERNOPIL_TITLE, [TERNOPIL, UKRAINE], 2, ["en"], NOW - timedelta(minutes=30),
                     NOW - timedelta(minutes=29))
    other = event("ev-ternopil-b", "Ракетний удар по Тернополю", [TERNOPIL, UKRAINE], 1, ["uk"],
                  NOW - timedelta(minutes=28), NOW - timedelta(minutes=28))
    await produce(settings, topics.events, [record(ternopil), record(other)])
    console, url = start_console(cli_env, tmp_path, rules_dir, None)
    port = int(url.rsplit(":", 1)[1])
    try:
        browser.get(url)
        wait_until(browser, lambda d: cards(d) == ["ev-ternopil-b", "ev-ternopil"], 30, "the first two cards")
        stop(console)
        wait_until(browser, lambda d: d.find_element("id", "status").text == "reconnecting…", 30, "the page to see it down")

        grown = event("ev-ternopil", TERNOPIL_TITLE, [TERNOPIL, UKRAINE], 6, ["en", "uk", "ru"], NOW - timedelta(minutes=3),
                      NOW - timedelta(minutes=2), alerts=("a1",))
        grown = grown.model_copy(update={"merged": ["ev-ternopil-b"]})
        warsaw = event("ev-warsaw", "Poland detains suspects over rail sabotage", [WARSAW], 3, ["en", "pl"],
                       NOW - timedelta(minutes=10), NOW - timedelta(minutes=9), categories=("sabotage",))
        await produce(settings, topics.events, [record(warsaw), record(grown), (b"ev-ternopil-b", None)])

        console, _ = start_console(cli_env, tmp_path, rules_dir, None, port=port)
        wait_until(browser, lambda d: d.find_element("id", "status").text == "live"
                   and cards(d) == ["ev-ternopil", "ev-warsaw"], 60, "the page to show what happened meanwhile")
        assert "6 sources · en, uk, ru" in card_text(browser, "ev-ternopil") and "alerted" in card_text(browser, "ev-ternopil")
        wait_until(browser, lambda d: sorted(m.get_attribute("data-id") for m in event_markers(d)) == ["ev-ternopil", "ev-warsaw"],
                   10, "one marker per event")
        assert browser.find_element("id", "events-count").text == "(2)"
    finally:
        stop(console)
