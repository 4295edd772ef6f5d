"""`watchfloor run`: every stage in one process, on an embedded broker unless a cluster is set.

Every stage (ingest, classify, alert, notify, the console) runs as a task of one event loop with
one stop: Ctrl-C stops them all cleanly (transactions committed or aborted), then the broker.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from core.settings import ConfigError, Settings

log = logging.getLogger("watchfloor.run")


def run_all(settings: Settings, feeds_file: Path | None = None, rules: Path | None = None, fresh: bool = False) -> None:
    from ingest.feeds import load_feeds
    from ingest.service import feeds_path
    from core.broker import EmbeddedBroker
    from rules.reload import live_rules

    # The operator's files are checked before anything starts: a missing feeds file or a bad rule
    # is one line now, not a worker crash after the broker has come up.
    load_feeds(feeds_path(settings, feeds_file))
    live_rules(settings, rules)

    broker = None
    if not settings.bootstrap:
        data = settings.data_dir / "broker"
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
        elif (data / "logs" / "meta.properties").exists():
            log.info("reusing the embedded broker's storage: headlines and alerts seen before are not repeated "
                     "(watchfloor run --fresh starts from scratch)", extra={"data_dir": str(data)})
        broker = EmbeddedBroker(data, port=0)
        log.info("no WATCHFLOOR_KAFKA_BOOTSTRAP set: starting an embedded Kafka broker", extra={"data_dir": str(broker.data_dir)})
        broker.start()
        settings = settings.with_changes(bootstrap=broker.bootstrap)
        log.info("embedded Kafka ready", extra={"bootstrap": broker.bootstrap})
    try:
        _run_stages(settings, feeds_file, rules)
    finally:
        if broker is not None:
            broker.stop()
            log.info("embedded Kafka stopped")


def _run_stages(settings: Settings, feeds_file: Path | None, rules: Path | None) -> None:
    from core.shutdown import run_until_signal
    from watchfloor.console.service import check_port_free, console_port

    port = console_port(settings)
    if port:
        try:
            check_port_free("127.0.0.1", port)
        except ConfigError as exc:  # a busy port must not keep the pipeline from running
            log.warning(f"web console not started: {exc}")
            port = 0
    run_until_signal(lambda stop: run_stages(settings, feeds_file, rules, stop, port))
    log.info("stopped cleanly")


async def run_stages(settings: Settings, feeds_file: Path | None, rules: Path | None, stop: asyncio.Event,
                     console_port: int = 0) -> None:
    """Every stage as a task of one event loop, one stop for all; the first stage that fails
    stops the others and its error ends the command."""
    from alerting.service import run_alerting
    from ingest.service import run_ingest
    from notifiers.service import run_notifier
    from processors.service import create_category_topics, prepare, run_classify
    from rules.reload import keep_reloading, live_rules
    from watchfloor.console.service import run_console

    live = live_rules(settings, rules, stage="run")  # one rule set for the process and alert stages
    await prepare(settings, live)
    stages = {
        "ingest": run_ingest(settings, feeds_file, stop=stop),
        "process": run_classify(settings, live, stop),
        "alert": run_alerting(settings, live, stop),
        "notify": run_notifier(settings, None, stop),
        "rules": keep_reloading(live, stop, on_reload=create_category_topics(settings)),
    }
    if console_port:
        stages["console"] = run_console(settings, console_port, stop=stop)
        log.info(f"web console on http://127.0.0.1:{console_port}/ (WATCHFLOOR_CONSOLE_PORT=0 turns it off)")
    tasks = {asyncio.ensure_future(coro): name for name, coro in stages.items()}
    failed: BaseException | None = None
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None and failed is None:
                failed = task.exception()
                log.error("stage %s failed: %s; stopping the others", tasks[task], failed, extra={"stage": tasks[task]})
            stop.set()  # one stage ending (by stop or by failure) ends them all
    if failed is not None:
        raise failed
