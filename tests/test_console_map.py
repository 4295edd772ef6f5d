"""The console's map in a real headless browser (Debian's chromium through Selenium) on the real
broker: classified headlines and alerts that carry places, produced straight to their topics,
appear as markers at those places, live; the background is the shipped country outlines with no
request leaving the console (or a configured tile server's tiles); popups show feed text as text.
Also the places' cleaning and the tile setting's checks.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from core.contracts import Alert, Casualties, CategoryMatch, ClassifiedHeadline, Event, Place, StoryReport
from core.settings import ConfigError, Settings
from core.topics import Topics, ensure_topics
from tests.conftest import BIN, _http_server
from tests.kafka_helpers import produce
from tests.test_console import browser, needs_browser, start_console, stop, texts, wait_until  # noqa: F401 (fixture)
from watchfloor.console.basemap import map_config
from watchfloor.console.live import brief_alert, brief_headline
from watchfloor.console.places import clean_places

KYIV = {"id": 703448, "name": "Kyiv", "kind": "city", "country": "UA", "admin1": "12", "lat": 50.45466, "lon": 30.5238}
TERNOPIL = {"id": 691650, "name": "Ternopil", "kind": "city", "country": "UA", "admin1": "22", "lat": 49.55589, "lon": 25.60556}
KHARKIV = {"id": 706483, "name": "Kharkiv", "kind": "city", "country": "UA", "admin1": "07", "lat": 49.98081, "lon": 36.25272}
ODESA = {"id": 698740, "name": "Odesa", "kind": "city", "country": "UA", "admin1": "17", "lat": 46.47747, "lon": 30.73262}
WARSAW = {"id": 756135, "name": "Warsaw", "kind": "city", "country": "PL", "admin1": "78", "lat": 52.22977, "lon": 21.01178}
LUBLIN = {"id": 765876, "name": "Lublin", "kind": "city", "country": "PL", "admin1": "75", "lat": 51.25, "lon": 22.56667}
KLAIPEDA = {"id": 598098, "name": "Klaipėda", "kind": "city", "country": "LT", "admin1": "58", "lat": 55.7068, "lon": 21.13912}
UKRAINE = {"id": 690791, "name": "Ukraine", "kind": "country", "country": "UA", "admin1": None, "lat": 49.0, "lon": 32.0}

HOSTILE = '<img src=x onerror="window.pwned=1;document.title=1"> Drone attack on Kyiv'


def classified(n: int, title: str, categories: list[str], places: list[dict] | None, source: str = "Kyiv Wire",
               link: str | None = None) -> tuple[bytes, bytes]:
    """A classified headline as the classify stage writes it, plus the `places` the geo step adds."""
    now = datetime.now(timezone.utc)
    doc = ClassifiedHeadline(id=f"h{n:04d}", feed_id="test", source=source, title=title,
                             link=link or f"https://wire.example/{n}", fetched=now, rules_version="test", places=[],
                             classified=now, categories=[CategoryMatch(id=c, severity="high", matched=["x"]) for c in categories])
    value = json.loads(doc.to_bytes())
    if places is not None:
        value["places"] = places
    return doc.id.encode(), json.dumps(value).encode()


def alert(n: int, title: str, categories: list[str], places: list[dict] | None, sources: int = 2,
          link: str = "https://wire.example/story") -> tuple[bytes, bytes]:
    """An alert as the alert stage writes it, plus the story's `places`."""
    now = datetime.now(timezone.utc)
    doc = Alert(id=f"a{n:04d}", rule_id="strikes", severity="high", group_by="story", group=f"s{n}", story_id=f"s{n}",
                title=title, categories=categories, reports=[StoryReport(headline_id=f"h{n}", source="Kyiv Wire", title=title,
                                                                          link=link)],
                source_count=sources, first_seen=now - timedelta(minutes=5), fired=now, notify=["ops"], rules_version="test")
    value = json.loads(doc.to_bytes())
    if places is not None:
        value["places"] = places
    return doc.id.encode(), json.dumps(value).encode()


def event(eid: str, title: str, places: list[dict], sources: int, languages: list[str], last_seen: datetime,
          updated: datetime, alerts: tuple[str, ...] = (), casualties: Casualties | None = None,
          link: str = "https://wire.example/first", categories: tuple[str, ...] = ("airstrike",)) -> Event:
    """An event's state as the alert stage writes it: `sources` reports, one per source."""
    reports = [StoryReport(headline_id=f"{eid}-{i}", source=f"Source {i}", title=title if i == 0 else f"{title} ({i})",
                           link=link if i == 0 else f"https://wire.example/{eid}/{i}", language=languages[i % len(languages)])
               for i in range(sources)]
    return Event(id=eid, title=title, first_seen=last_seen - timedelta(minutes=20), last_seen=last_seen,
                 categories=list(categories), severity="high", places=[Place(**p) for p in places], reports=reports,
                 report_count=sources + 1, sources=[r.source for r in reports], source_count=sources, languages=languages,
                 casualties=casualties, rules=["strikes"], alerts=list(alerts), updated=updated)


def markers(driver, kind: str) -> list:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, f"#map path.wf-marker[data-kind={kind}]")


def marker_at(driver, kind: str, place: str, count: int = 1):  # type: ignore[no-untyped-def]
    """The (last drawn, so topmost) marker of that kind at that place; there must be `count`."""
    found = [m for m in markers(driver, kind) if m.get_attribute("data-place") == place]
    assert len(found) == count, f"{kind} markers at {place}: {len(found)}"
    return found[-1]


def centre(element) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    rect = element.rect
    return rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2


def open_popup(driver, element) -> str:  # type: ignore[no-untyped-def]
    """Clicks a marker as a user would; the popup's text."""
    from selenium.webdriver.common.by import By

    for close in driver.find_elements(By.CSS_SELECTOR, ".leaflet-popup-close-button"):
        close.click()
    wait_until(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, ".leaflet-popup"), 10, "the last popup closed")
    element.click()
    css = f'.leaflet-popup-content .wf-popup[data-kind="{element.get_attribute("data-kind")}"][data-id="{element.get_attribute("data-id")}"]'
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, css), 10, "the popup")
    # it fades in, and the map pans to show it whole: its title shows once it is in view
    wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, css + " .wf-title").text, 10, "the popup's title")
    return driver.find_element(By.CSS_SELECTOR, css).text


def resources(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")


@needs_browser
async def test_markers_at_their_places_live_on_offline_outlines(settings, rules_dir, cli_env, tmp_path, browser):
    from selenium.webdriver.common.by import By

    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, topics.specs())
    await produce(settings, topics.classified, [
        classified(1, "Missile strike on Ternopil apartment blocks kills dozens", ["airstrike"], [TERNOPIL, UKRAINE]),
        classified(2, "Ternopil: death toll rises after missile strike on apartment blocks", ["airstrike"], [TERNOPIL],
                   source="Поділля Інфо"),
        classified(3, "Kharkiv hit by drones overnight, civilians hurt", ["airstrike"], [KHARKIV, UKRAINE]),
        classified(4, "Turkey and UAE mediate new Russia–Ukraine prisoner exchange talks in Odesa", ["prisoner_exchange"],
                   [ODESA], source="Global Report"),
        classified(5, "Poland detains suspects over rail sabotage linked to Russian intelligence", ["sabotage"], [WARSAW],
                   source="Europe Desk"),
        classified(6, "Russian spy ship Yantar shadowed off Klaipėda, navy says", ["maritime_espionage"], [KLAIPEDA],
                   source="Baltic Monitor"),
        classified(7, "Drone and missile barrage hits several regions overnight", ["airstrike"], None),  # listed, not mapped
        classified(8, "Ternopil theatre reopens", [], [TERNOPIL]),  # no category: neither listed nor on the map
        classified(9, "Pokrovsk: war-crime claims as troops disguised as civilians", ["war_crimes"],
                   [{"name": "Nowhere", "lat": "49.5", "lon": 25.6}, {"name": "Mars", "lat": 91.0, "lon": 0.0}]),
    ])
    await produce(settings, topics.alerts, [
        alert(1, "Missile strike on Ternopil apartment blocks kills dozens", ["airstrike"], [TERNOPIL], sources=3),
        alert(3, "Tusk: people behind Warsaw–Lublin line blast worked with Russian intelligence", ["sabotage"], [LUBLIN]),
    ])
    now = datetime.now(timezone.utc)
    await produce(settings, topics.events, [(e.id.encode(), e.to_bytes()) for e in (
        event("ev-lublin", "Tusk: people behind Warsaw–Lublin line blast worked with Russian intelligence", [LUBLIN], 6,
              ["en", "pl", "uk"], now, now, alerts=("a0003",), categories=("sabotage",)),
        event("ev-odesa", "Turkey and UAE mediate new Russia–Ukraine prisoner exchange talks in Odesa", [ODESA], 3,
              ["en", "uk", "tr"], now - timedelta(minutes=3), now, categories=("prisoner_exchange",)),
    )])
    console, url = start_console(cli_env, tmp_path, rules_dir, None)
    try:
        assert httpx.get(f"{url}/api/state").json()["map"] == {"tiles": None, "attribution": None, "attribution_url": None}
        browser.get(url)
        wait_until(browser, lambda d: len(markers(d, "headline")) == 6 and len(markers(d, "alert")) == 2
                   and len(d.find_elements(By.CSS_SELECTOR, "#map .wf-event")) == 2, 30,
                   "6 headline markers, 2 alert markers and 2 event markers")
        wait_until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#map path.wf-country")) > 150, 30,
                   "the country outlines")
        assert browser.find_element(By.ID, "map-count").text == "6 headlines, 2 alerts, 2 events placed"
        assert not browser.find_elements(By.CSS_SELECTOR, "#map img.leaflet-tile")
        wait_until(browser, lambda d: any("several regions overnight" in t for t in texts(d, "#headlines li")), 10, "the list")

        # where a reader expects them: Kharkiv east of Ternopil, Odesa south of it, Klaipėda north of Warsaw
        ternopil, kharkiv = centre(marker_at(browser, "headline", "Ternopil, UA", 2)), centre(marker_at(browser, "headline", "Kharkiv, UA"))
        odesa, warsaw = centre(marker_at(browser, "headline", "Odesa, UA")), centre(marker_at(browser, "headline", "Warsaw, PL"))
        klaipeda = centre(marker_at(browser, "headline", "Klaipėda, LT"))
        assert kharkiv[0] > ternopil[0] + 50 and odesa[1] > ternopil[1] + 30 and klaipeda[1] < warsaw[1] - 30
        assert warsaw[0] < ternopil[0] < kharkiv[0]

        # one colour per category, the same for every headline of it; the alert is bigger and ringed
        fills = {m.get_attribute("data-category"): set() for m in markers(browser, "headline")}
        for m in markers(browser, "headline"):
            fills[m.get_attribute("data-category")].add(m.get_attribute("fill"))
        assert all(len(f) == 1 for f in fills.values()) and len({f.pop() for f in fills.values()}) == len(fills) == 4
        ringed = marker_at(browser, "alert", "Ternopil, UA")
        headline_marker = markers(browser, "headline")[0]
        assert ringed.rect["width"] > headline_marker.rect["width"] + 6
        assert ringed.get_attribute("stroke") != headline_marker.get_attribute("stroke")
        legend = texts(browser, ".wf-legend div")
        assert {"airstrike", "sabotage", "maritime_espionage", "prisoner_exchange"} <= set(legend) and "alert (ringed)" in legend

        text = open_popup(browser, marker_at(browser, "headline", "Warsaw, PL"))
        assert "Poland detains suspects over rail sabotage" in text and "Europe Desk" in text and "Warsaw, PL" in text
        assert browser.find_element(By.CSS_SELECTOR, ".leaflet-popup-content a").get_attribute("href") == "https://wire.example/5"
        text = open_popup(browser, ringed)
        assert "alert strikes: 3 sources" in text and "Ternopil, UA" in text
        text = open_popup(browser, marker_at(browser, "headline", "Kharkiv, UA"))
        assert "Kharkiv hit by drones overnight" in text and "Kyiv Wire" in text and "Kharkiv, UA" in text
        shot = os.environ.get("WATCHFLOOR_CONSOLE_SCREENSHOT")
        if shot:  # docs/console.png is made this way, once the popup has faded in
            wait_until(browser, lambda d: d.execute_script(
                "return getComputedStyle(document.querySelector('.leaflet-popup')).opacity") == "1", 10, "the popup shown")
            browser.save_screenshot(shot)

        # live: new headlines and alerts come as markers without a reload; hostile text stays text
        await produce(settings, topics.classified, [classified(10, HOSTILE, ["airstrike"], [KYIV, UKRAINE])])
        await produce(settings, topics.alerts, [alert(2, "UK: Yantar spy ship used lasers against RAF crews", ["maritime_espionage"],
                                                      [KLAIPEDA], link="javascript:alert(1)")])
        wait_until(browser, lambda d: len(markers(d, "headline")) == 7 and len(markers(d, "alert")) == 3, 30,
                   "the live markers")
        assert browser.find_element(By.ID, "map-count").text == "7 headlines, 3 alerts, 2 events placed"
        text = open_popup(browser, marker_at(browser, "headline", "Kyiv, UA"))
        assert '<img src=x onerror="window.pwned=1;document.title=1"> Drone attack on Kyiv' in text
        assert not browser.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content img, #map img:not(.leaflet-tile)")
        assert browser.execute_script("return window.pwned") is None and browser.title == "Watchfloor console"
        text = open_popup(browser, marker_at(browser, "alert", "Klaipėda, LT"))
        assert "Yantar spy ship used lasers" in text and not browser.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content a")

        # everything the page loaded came from the console itself: it works without internet
        loaded = resources(browser)
        assert any(u.endswith("/static/vendor/leaflet/leaflet.js") for u in loaded)
        assert any(u.endswith("/static/vendor/world-atlas/countries-110m.json") for u in loaded)
        assert [u for u in loaded if not u.startswith(url + "/")] == []
    finally:
        stop(console)


def png(width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (170, 211, 223)) -> bytes:
    """A plain PNG tile, made here: the tile server of the test serves it for every z/x/y."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def tile_server() -> Iterator:
    yield from _http_server()


@needs_browser
async def test_a_tile_url_gives_a_basemap_from_that_server(settings, rules_dir, cli_env, tmp_path, browser, tile_server):
    from selenium.webdriver.common.by import By

    tile_server.expect_request(re.compile(r"^/tiles/\d+/\d+/\d+\.png$")).respond_with_data(png(), content_type="image/png")
    template = tile_server.url_for("/tiles") + "/{z}/{x}/{y}.png"
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, topics.specs())
    await produce(settings, topics.classified, [classified(1, "Kharkiv hit by drones overnight", ["airstrike"], [KHARKIV])])
    console, url = start_console(cli_env, tmp_path, rules_dir, None, {"WATCHFLOOR_CONSOLE_TILE_URL": template})
    try:
        state = httpx.get(f"{url}/api/state").json()
        assert state["map"] == {"tiles": template, "attribution": "Map tiles: 127.0.0.1", "attribution_url": None}
        browser.get(url)
        tiles = "#map img.leaflet-tile-loaded"
        wait_until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, tiles)) >= 4, 30, "tiles from the tile server")
        sources = [e.get_attribute("src") for e in browser.find_elements(By.CSS_SELECTOR, tiles)]
        assert all(re.fullmatch(re.escape(tile_server.url_for("/tiles")) + r"/\d+/\d+/\d+\.png", s) for s in sources)
        assert browser.execute_script(f"return document.querySelector('{tiles}').naturalWidth") == 256
        asked = [request.path for request, _ in tile_server.log]
        assert len(asked) >= 4 and all(re.fullmatch(r"/tiles/\d+/\d+/\d+\.png", p) for p in asked)
        wait_until(browser, lambda d: len(markers(d, "headline")) == 1, 30, "the marker over the tiles")
        assert "Map tiles: 127.0.0.1" in browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
        assert not browser.find_elements(By.CSS_SELECTOR, "#map path.wf-country")  # no outlines under real tiles
        assert not any("countries-110m" in u for u in resources(browser))
    finally:
        stop(console)


@pytest.mark.parametrize("value", [
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png?key=abc",
    "https://{s}.tiles.example/{z}/{y}/{x}@2x.png",
])
def test_the_tile_setting_takes_http_url_templates(value):
    assert Settings.from_env({"WATCHFLOOR_CONSOLE_TILE_URL": value}).console_tile_url == value
    assert Settings.from_env({}).console_tile_url is None


@pytest.mark.parametrize("value, problem", [
    ("ftp://tiles.example/{z}/{x}/{y}.png", "not an http(s) URL"),
    ("tile.openstreetmap.org/{z}/{x}/{y}.png", "not an http(s) URL"),
    ("javascript:alert(1)//{z}/{x}/{y}", "not an http(s) URL"),
    ('https://tiles.example/"><script>/{z}/{x}/{y}', "not an http(s) URL"),
    ("https://tiles.example/{z}/{x}.png", "{y} missing from the URL"),
    ("https://tiles.example/tile.png", "{z}, {x}, {y} missing from the URL"),
])
def test_a_bad_tile_setting_is_one_line(value, problem):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"WATCHFLOOR_CONSOLE_TILE_URL": value})
    assert str(caught.value).splitlines() == [
        f"WATCHFLOOR_CONSOLE_TILE_URL={value!r}: {problem}; allowed: {Settings.model_fields['console_tile_url'].description}"]


def test_a_bad_tile_setting_stops_the_console_with_one_line(cli_env):
    env = {**cli_env, "WATCHFLOOR_CONSOLE_TILE_URL": "ftp://tiles.example/{z}/{x}/{y}.png"}
    result = subprocess.run([str(BIN / "watchfloor"), "console", "--port", "0"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: WATCHFLOOR_CONSOLE_TILE_URL='ftp://tiles.example/{z}/{x}/{y}.png': not an http(s) URL; allowed: "
        + Settings.model_fields["console_tile_url"].description]


def test_attribution_defaults_credit_the_tile_server():
    osm = Settings.from_env({"WATCHFLOOR_CONSOLE_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"})
    assert map_config(osm) == {"tiles": osm.console_tile_url, "attribution": "© OpenStreetMap contributors",
                               "attribution_url": "https://www.openstreetmap.org/copyright"}
    other = Settings.from_env({"WATCHFLOOR_CONSOLE_TILE_URL": "https://{s}.tiles.example/{z}/{x}/{y}.png"})
    assert map_config(other)["attribution"] == "Map tiles: tiles.example"


def test_places_reach_the_page_checked():
    hostile = {"id": 1, "name": "N" * 500, "kind": "<b>city</b>", "country": "UA", "admin1": None, "lat": 49.5, "lon": 25.6,
               "extra": "<script>", "population": 10**9}
    places = clean_places([hostile, {"name": "nan", "lat": float("nan"), "lon": 1.0},
                           {"name": "inf", "lat": 1.0, "lon": float("inf")}, {"name": "south", "lat": -90.5, "lon": 0},
                           {"name": "text", "lat": "49", "lon": 25}, {"name": "bool", "lat": True, "lon": 25},
                           {"name": "huge", "lat": 10**400, "lon": 0}, "Kyiv", None,
                           {"id": True, "name": 7, "lat": 50, "lon": -180, "country": ["UA"]}])
    assert places == [
        {"id": 1, "name": "N" * 200, "kind": None, "country": "UA", "admin1": None, "lat": 49.5, "lon": 25.6},
        {"id": None, "name": "", "kind": None, "country": None, "admin1": None, "lat": 50.0, "lon": -180.0},
    ]
    assert all(isinstance(p["lat"], float) for p in places)
    assert len(clean_places([TERNOPIL] * 1000)) == 10
    assert clean_places(None) == [] and clean_places({"lat": 1, "lon": 2}) == []

    doc = json.loads(classified(1, "Missile strike on Ternopil", ["airstrike"], [TERNOPIL, UKRAINE])[1])
    assert brief_headline(doc)["places"] == [TERNOPIL, UKRAINE]
    assert brief_headline({**doc, "places": None})["places"] == []
    old = {k: v for k, v in doc.items() if k != "places"}  # written before places existed
    assert brief_headline(old)["places"] == []
    fired = json.loads(alert(1, "Strike", ["airstrike"], [KHARKIV])[1])
    assert brief_alert(fired)["places"] == [KHARKIV]
    assert brief_alert({k: v for k, v in fired.items() if k != "places"})["places"] == []
