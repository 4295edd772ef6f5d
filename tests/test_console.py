"""The web console in a real headless browser (Debian's chromium through Selenium), with the real
broker and a real `watchfloor process`: live headlines and alerts appear, feed text stays text,
the rule test box marks the matched words, and a silence added in the page stops the next alert.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, ROOT
from tests.kafka_helpers import headline, send, wait_for_messages
from core.broker import free_port
from core.kafka import read_to_end
from core.topics import Topics

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and os.environ.get("CI") != "true",
    reason="needs Debian's chromium and chromium-driver (`.ci/run` installs them)")

RULES = """\
rules:
  - id: airstrike
    title: Strikes
    severity: high
    match:
      any: ["missile strike*", "drone attack*"]
alerts:
  - id: strikes
    when: {categories: [airstrike]}
    notify: [ops]
"""
TOKEN = "console-test-token"


def start_console(cli_env: dict, tmp_path: Path, rules_dir: Path, token: str | None,
                  extra_env: dict[str, str] | None = None, port: int | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    env = {**cli_env, "WATCHFLOOR_RULES": str(rules_dir), **(extra_env or {})}
    if token:
        env["WATCHFLOOR_CONSOLE_TOKEN"] = token
    log = open(tmp_path / f"console-{port}.log", "a")  # a restart on the same port keeps the first log
    proc = subprocess.Popen([str(BIN / "watchfloor"), "console", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/api/state", timeout=2).json()["connected"]:
                return proc, url
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / f"console-{port}.log").read_text()
        time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the console did not stop on SIGTERM")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER or "/usr/bin/chromedriver"))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_until(driver, check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: check(d))
    except Exception as exc:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from exc


def texts(driver, css: str) -> list[str]:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


@needs_browser
async def test_live_headlines_alerts_test_box_and_a_silence_from_the_page(processor, alerter, settings, rules_dir, cli_env,
                                                                       tmp_path, browser):
    from selenium.webdriver.common.by import By

    (rules_dir / "strikes.yaml").write_text(RULES)
    await asyncio.sleep(2.5)  # the processor picks the new rules up within a second
    console, url = start_console(cli_env, tmp_path, rules_dir, TOKEN)
    topics = Topics(settings.topic_prefix)
    try:
        browser.get(url)
        wait_until(browser, lambda d: d.find_element(By.ID, "status").text == "live", 15, "the event stream")

        # a headline produced to Kafka appears on the page, its hostile markup shown as text
        await send(settings, headline(1, '<img src=x onerror="document.title=1"> Missile strike on Odesa port'))
        wait_until(browser, lambda d: any("Missile strike on Odesa port" in t for t in texts(d, "#headlines li")), 30,
                   "the headline on the page")
        assert any('<img src=x onerror="document.title=1">' in t for t in texts(browser, "#headlines li"))
        assert not browser.find_elements(By.CSS_SELECTOR, "#headlines img") and browser.title == "Watchfloor console"
        wait_until(browser, lambda d: any("Missile strike on Odesa port" in t for t in texts(d, "#alerts li")), 30,
                   "the alert on the page")
        wait_until(browser, lambda d: "airstrike" in texts(d, "#chart tr td:first-child"), 10, "the category count")
        assert browser.find_element(By.CSS_SELECTOR, '#chart tr[data-category="airstrike"] td.total').text == "1"

        # the test box marks what the live rules matched
        browser.find_element(By.ID, "test-title").send_keys("Overnight drone attack on Kyiv")
        browser.find_element(By.ID, "test-button").click()
        wait_until(browser, lambda d: texts(d, "#test-result mark"), 10, "the test result")
        assert texts(browser, "#test-result mark") == ["drone attack"]
        assert texts(browser, "#test-result p.match strong") == ["airstrike"]

        # a silence added in the page stops the next alert
        browser.find_element(By.ID, "silence-token").send_keys(TOKEN)
        browser.find_element(By.ID, "silence-match").send_keys("Kherson")
        browser.find_element(By.ID, "silence-reason").send_keys("known story, briefed at 06:00")
        browser.find_element(By.ID, "silence-add").click()
        wait_until(browser, lambda d: any("Kherson" in t for t in texts(d, "#silences li")), 15, "the silence listed")
        await asyncio.sleep(2)  # the processor follows the silences topic
        await send(settings, headline(2, "Missile strike on Kherson market"), headline(3, "Missile strike on Lviv depot"))
        wait_until(browser, lambda d: any("Lviv" in t for t in texts(d, "#alerts li")), 30, "the next alert")
        await wait_for_messages(settings, topics.classified, 3, timeout=30)
        assert not any("Kherson" in t for t in texts(browser, "#alerts li"))
        fired = [json.loads(v)["title"] for _, v in await read_to_end(settings, topics.alerts)]
        assert sorted(fired) == ['<img src=x onerror="document.title=1"> Missile strike on Odesa port',
                                 "Missile strike on Lviv depot"]
        browser.save_screenshot(str(tmp_path / "console.png"))
        assert (tmp_path / "console.png").stat().st_size > 10_000
    finally:
        stop(console)


def test_without_a_token_the_console_is_read_only(settings, rules_dir, cli_env, tmp_path):
    console, url = start_console(cli_env, tmp_path, rules_dir, None)
    try:
        state = httpx.get(f"{url}/api/state").json()
        assert state["writable"] is False
        refused = httpx.post(f"{url}/api/silences", json={"match": ["Kherson"], "reason": "x"})
        assert refused.status_code == 403 and "WATCHFLOOR_CONSOLE_TOKEN" in refused.json()["error"]
        tested = httpx.post(f"{url}/api/test", json={"title": "Missile strike on Kharkiv"}).json()
        assert [m["id"] for m in tested["matches"]] == ["airstrike"]
        page = httpx.get(url).text
        assert "<script src=\"/static/console.js\">" in page
        for _ in range(2):  # a browser tab that opens the live stream and is closed
            with httpx.stream("GET", f"{url}/api/events", timeout=5) as live:
                assert next(live.iter_lines()).startswith("retry:")
            time.sleep(0.5)
    finally:
        stop(console)
    assert asyncio.run(read_to_end(settings, Topics(settings.topic_prefix).silences)) == []
    log = (tmp_path / f"console-{url.rsplit(':', 1)[1]}.log").read_text()
    assert "Task was destroyed" not in log and "Traceback" not in log, log[-2000:]


def test_the_test_box_marks_the_words_of_the_rules_that_matched_only(tmp_path):
    """"Missile strike near rail depot": the airstrike rule matched on "missile strike"; "rail",
    a term of a sabotage rule that did not match (it needs a blast too), stays unmarked."""
    from rules.loader import load_rules
    from watchfloor.console.highlight import explain

    (tmp_path / "r.yaml").write_text(RULES.replace("alerts:", """  - id: sabotage
    title: Sabotage
    severity: high
    match:
      all: ["rail*", "blast*"]
alerts:""").replace("categories: [airstrike]", "categories: [airstrike, sabotage]"))
    shown = explain(load_rules(tmp_path).engine, "Missile strike near rail depot")
    assert [m["id"] for m in shown["matches"]] == ["airstrike"]
    assert [x["text"] for x in shown["title"] if x["mark"]] == ["Missile strike"]


def test_a_wrong_token_is_refused(settings, rules_dir, cli_env, tmp_path):
    console, url = start_console(cli_env, tmp_path, rules_dir, TOKEN)
    try:
        wrong = httpx.post(f"{url}/api/silences", headers={"Authorization": "Bearer nope"},
                           json={"match": ["Kherson"], "reason": "x"})
        assert wrong.status_code == 401
        missing_reason = httpx.post(f"{url}/api/silences", headers={"Authorization": f"Bearer {TOKEN}"},
                                    json={"match": ["Kherson"]})
        assert missing_reason.status_code == 400
        ok = httpx.post(f"{url}/api/silences", headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"match": ["Kherson"], "reason": "briefed", "duration": "30m"})
        assert ok.status_code == 201
        listed = httpx.get(f"{url}/api/state").json()["silences"]
        deadline = time.monotonic() + 10
        while not listed and time.monotonic() < deadline:
            time.sleep(0.3)
            listed = httpx.get(f"{url}/api/state").json()["silences"]
        assert [s["match"] for s in listed] == [["Kherson"]]
        expired = httpx.post(f"{url}/api/silences/{ok.json()['id']}/expire", headers={"Authorization": f"Bearer {TOKEN}"})
        assert expired.status_code == 200
    finally:
        stop(console)


def test_a_busy_port_is_named_not_a_traceback(cli_env, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(BIN / "watchfloor"), "console", "--port", str(port)], env=cli_env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "WATCHFLOOR_CONSOLE_PORT" in result.stderr
    assert "Traceback" not in result.stderr
