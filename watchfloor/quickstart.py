"""`watchfloor run`: every stage in one process, on an embedded broker unless a cluster is set."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from pathlib import Path

from watchfloor.settings import Settings

log = logging.getLogger("watchfloor.run")


def run_all(settings: Settings, feeds_file: Path | None = None) -> None:
    from watchfloor.broker import EmbeddedBroker

    broker = None
    if not settings.bootstrap:
        broker = EmbeddedBroker(settings.data_dir / "broker", port=0)
        log.info("no WATCHFLOOR_KAFKA_BOOTSTRAP set: starting an embedded Kafka broker", extra={"data_dir": str(broker.data_dir)})
        broker.start()
        settings = dataclasses.replace(settings, bootstrap=broker.bootstrap)
        log.info("embedded Kafka ready", extra={"bootstrap": broker.bootstrap})
    try:
        asyncio.run(_stages(settings, feeds_file))
    finally:
        if broker is not None:
            broker.stop()
            log.info("embedded Kafka stopped")


async def _stages(settings: Settings, feeds_file: Path | None) -> None:
    from ingest.service import run_ingest

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_ingest(settings, feeds_file, stop=stop)
    log.info("stopped cleanly")
