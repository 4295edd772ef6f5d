"""A rules file broken while `watchfloor process` and `watchfloor alert` run, seen end to end at the webhook receiver.

tests/test_processor.py already proves that a broken *category* edit keeps the old categories;
these tests cover what it does not: the *alert* rules keep firing through a broken edit, and an
emptied file (a non-atomic rewrite caught half way, or a mistaken `> rules.yaml`) does not
silently switch every rule off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.fault_helpers import Pipeline, Receiver, eventually, place
from tests.kafka_helpers import headline, send


async def _alert_for(pipe: Pipeline, receiver: Receiver, n: int, timeout: float = 60) -> None:
    title = f"Missile strike hits {place(n)}"
    await send(pipe.settings, headline(n, title))
    await eventually(lambda: title in receiver.titles(), timeout, f"the alert for {title!r}", on_fail=pipe.logs)


async def _started(kafka: str, prefix: str, tmp_path: Path, hook_server: HTTPServer) -> tuple[Pipeline, Receiver]:
    receiver = Receiver(hook_server)
    pipe = Pipeline(kafka, prefix, tmp_path, None, receiver.apprise_config(tmp_path / "apprise.txt"))
    await pipe.ensure_topics()
    pipe.process().start()
    pipe.alert().start()
    pipe.notify().start()
    return pipe, receiver


async def _log_says(pipe: Pipeline, text: str) -> None:
    process = pipe.stages[0]
    await eventually(lambda: text in process.log_text(), 20, f"the processor logging {text!r}", every=0.2,
                     on_fail=process.log_tail)


async def test_broken_edits_keep_the_last_good_alert_rules_firing(kafka, prefix, tmp_path, hook_server):
    pipe, receiver = await _started(kafka, prefix, tmp_path, hook_server)
    rules = pipe.rules_dir / "rules.yaml"
    good = rules.read_text()
    try:
        await _alert_for(pipe, receiver, 1)

        rules.write_text(good.replace("alerts:", "alerts: [\n"))  # not YAML any more
        await _log_says(pipe, "keeping the last good rules")
        await _alert_for(pipe, receiver, 2)

        rules.write_text(good.replace("categories: [airstrike]", "categories: [airstrikes]"))  # unknown category
        await eventually(lambda: pipe.stages[0].log_text().count("keeping the last good rules") >= 2, 20,
                         "the second refusal", on_fail=pipe.logs)
        await _alert_for(pipe, receiver, 3)
        rules.write_text(good)  # put back as it was: the operator is told it is mended
        await _log_says(pipe, "rule files valid again; the rules in force are unchanged")
        pipe.assert_alive()
        assert all(n == 1 for n in receiver.titles().values()), receiver.titles()
    finally:
        pipe.stop_all()


async def test_an_emptied_rules_file_keeps_the_last_good_rules(kafka, prefix, tmp_path, hook_server):
    pipe, receiver = await _started(kafka, prefix, tmp_path, hook_server)
    rules = pipe.rules_dir / "rules.yaml"
    try:
        await _alert_for(pipe, receiver, 1)
        rules.write_text("")  # what `open(path, "w")` leaves until the new content is written
        await asyncio.sleep(2.5)  # the processor looks at the folder every second
        await _alert_for(pipe, receiver, 2, timeout=20)  # the first alert took about a second
        pipe.assert_alive()
    finally:
        pipe.stop_all()
