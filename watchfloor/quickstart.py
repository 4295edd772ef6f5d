"""`watchfloor run`: every stage in one process, on an embedded broker unless a cluster is set.

The faust worker owns the event loop; ingest and the notifier run as tasks of the same app, so
one Ctrl-C stops them all cleanly (offsets committed), then the embedded broker.
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
    from processors.service import live_rules
    from core.broker import EmbeddedBroker

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
    from ingest.service import run_ingest
    from notifiers.service import run_notifier
    from processors.app import build_app, run_worker
    from processors.service import live_rules, prepare
    from watchfloor.console.service import check_port_free, console_port, run_console

    live = live_rules(settings, rules)
    replication = asyncio.run(prepare(settings, live))

    async def ingest() -> None:
        await _until_cancelled(lambda stop: run_ingest(settings, feeds_file, stop=stop), "ingest")

    async def notify() -> None:
        await _until_cancelled(lambda stop: run_notifier(settings, None, stop), "notify")

    tasks = [ingest, notify]
    port = console_port(settings)
    if port:
        try:
            check_port_free("127.0.0.1", port)
        except ConfigError as exc:  # a busy port must not keep the pipeline from running
            log.warning(f"web console not started: {exc}")
            port = 0
    if port:
        async def console() -> None:
            await _until_cancelled(lambda stop: run_console(settings, port, stop=stop), "console")

        tasks.append(console)
        log.info(f"web console on http://127.0.0.1:{port}/ (WATCHFLOOR_CONSOLE_PORT=0 turns it off)")
    run_worker(build_app(settings, live, replication, tasks=tasks))
    log.info("stopped cleanly")


async def _until_cancelled(stage, name: str) -> None:  # type: ignore[no-untyped-def]
    """Runs a stage until the worker stops it; turns the worker's cancellation into the stage's own stop."""
    stop = asyncio.Event()
    task = asyncio.ensure_future(stage(stop))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        stop.set()
        try:
            await asyncio.wait_for(task, 15)
        except Exception:  # the stage logs its own problems; shutting down goes on
            log.warning("stage did not stop cleanly", extra={"stage": name})
        raise
    except Exception:
        log.exception("stage failed", extra={"stage": name})
        raise
