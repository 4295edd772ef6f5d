"""The `watchfloor` command: a thin shell over the stage packages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from core import health
from core.logs import setup_logging
from core.settings import ConfigError, Settings

# rich_markup_mode=None: plain click help, which (unlike typer's rich panels) shows no `<bool>` after flags.
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Real-time alerting on geopolitical news.")


@app.callback()
def _validate_settings() -> None:
    """Every WATCHFLOOR_* variable is checked once, before any command starts: a bad value is one line, exit 2."""
    if {"--help", "-h"} & set(sys.argv[1:]):
        return
    try:
        Settings.from_env()
    except ConfigError as exc:
        _fail(str(exc))


def _register_subcommands() -> None:
    from watchfloor.cli_feeds import feeds_app
    from watchfloor.cli_rules import classify, rules_app

    app.add_typer(feeds_app, name="feeds")
    app.add_typer(rules_app, name="rules")
    app.command(name="classify")(classify)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _config_errors():
    """Configuration and connection problems end the command with one clear line, not a traceback."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from core.kafka import connection_problem

    try:
        yield
    except ConfigError as exc:
        _fail(str(exc))
    except (KafkaConnectionError, KafkaError) as exc:
        _fail(str(connection_problem(Settings.from_env(), exc)))
    except OSError as exc:  # a refused or reset connection surfaces from asyncio as OSError
        _fail(str(connection_problem(Settings.from_env(), exc)))


def _run_until_signal(main) -> object:  # type: ignore[no-untyped-def]
    """Runs `main(stop)` and turns SIGINT/SIGTERM into a clean stop instead of a traceback."""
    from core.shutdown import run_until_signal

    return run_until_signal(main)


@app.command()
def broker(
    port: int = typer.Option(9092, help="client port on 127.0.0.1 (0 picks a free one)"),
    data_dir: Optional[Path] = typer.Option(None, help="storage folder, formatted on first use"),
    fetch_only: bool = typer.Option(False, "--fetch-only", help="only fetch the Kafka jars, then exit"),
) -> None:
    """Run a single-node Apache Kafka (KRaft) on 127.0.0.1 for development and tests."""
    from core.broker import EmbeddedBroker, ensure_jars

    setup_logging()
    with _config_errors():
        if fetch_only:
            typer.echo(f"kafka jars in {ensure_jars()}")
            return
        settings = Settings.from_env()
        kafka = EmbeddedBroker(data_dir or settings.data_dir / "broker", port=port)
        stopped = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stopped
            stopped = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        kafka.start()
        typer.echo(f"ready {kafka.bootstrap}", nl=True)
        sys.stdout.flush()
        try:
            while not stopped and kafka.proc is not None and kafka.proc.poll() is None:
                time.sleep(0.2)
        finally:
            kafka.stop()
        if not stopped:
            _fail(f"the Kafka broker exited unexpectedly; see {kafka.log_path}", 1)


@app.command()
def ingest(
    feeds: Optional[Path] = typer.Option(None, "--feeds", help="feeds file (default: WATCHFLOOR_FEEDS or the samples)"),
    once: bool = typer.Option(False, "--once", help="poll every feed once, wait for Kafka's acks, exit"),
) -> None:
    """Poll RSS/Atom feeds and publish new entries to <prefix>.headlines.raw."""
    from ingest.service import run_ingest

    setup_logging()
    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        if not once:
            health.expect("ingest")
            health.serve("ingest")
        _run_until_signal(lambda stop: run_ingest(settings, feeds, once=once, stop=stop))


@app.command()
def process(
    rules: Optional[Path] = typer.Option(None, "--rules", help="rules folder (default: WATCHFLOOR_RULES or the shipped packs)"),
) -> None:
    """Classify <prefix>.headlines.raw into <prefix>.headlines.classified and <prefix>.category.<id>."""
    from processors.service import run_processor

    setup_logging()
    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        health.expect("process")
        health.serve("process")
        _run_until_signal(lambda stop: run_processor(settings, stop, rules))


@app.command()
def alert(
    rules: Optional[Path] = typer.Option(None, "--rules", help="rules folder (default: WATCHFLOOR_RULES or the shipped packs)"),
) -> None:
    """Run the alert rules over <prefix>.alerting.work and publish alerts to <prefix>.alerts."""
    from alerting.service import run_alert_stage

    setup_logging()
    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        health.expect("alert")
        health.serve("alert")
        _run_until_signal(lambda stop: run_alert_stage(settings, stop, rules))


@app.command()
def notify(
    apprise_config: Optional[Path] = typer.Option(None, "--apprise-config", help="Apprise YAML/TEXT config (default: WATCHFLOOR_APPRISE_CONFIG; none: print to the terminal)"),
    test: Optional[str] = typer.Option(None, "--test", metavar="TAG", help="send a test message to the channels of TAG and exit"),
) -> None:
    """Deliver <prefix>.alerts through Apprise; at-least-once, never twice to one channel."""
    from notifiers.service import run_notifier, send_test

    setup_logging()
    settings = Settings.from_env()
    with _config_errors():
        if test is not None:
            failed = send_test(settings, apprise_config, test)
            raise typer.Exit(1 if failed else 0)
        settings.require_bootstrap()
        health.expect("notify")
        health.serve("notify")
        _run_until_signal(lambda stop: run_notifier(settings, apprise_config, stop))


@app.command()
def console(
    port: Optional[int] = typer.Option(None, "--port", help="HTTP port (default: WATCHFLOOR_CONSOLE_PORT or 8080)"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on (0.0.0.0 to serve others)"),
    hours: int = typer.Option(24, "--hours", help="hours of history shown and counted"),
) -> None:
    """Serve the web console: live stories and alerts, counts per category, silences, a rule test box.
    Read-only unless WATCHFLOOR_CONSOLE_TOKEN is set."""
    from watchfloor.console.service import console_port, run_console

    setup_logging()
    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        _run_until_signal(lambda stop: run_console(settings, console_port(settings, port) or 8080, host, stop, hours))


topics_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="The topics the service needs, and the cluster's.")
app.add_typer(topics_app, name="topics")


def _planned(rules: Optional[Path]):  # type: ignore[no-untyped-def]
    from core.provisioning import plan
    from rules.reload import live_rules

    settings = Settings.from_env()
    return settings, plan(settings, live_rules(settings, rules).current.category_ids)


@topics_app.command("plan")
def topics_plan(
    rules: Optional[Path] = typer.Option(None, "--rules", help="rules folder: one topic per category (default: WATCHFLOOR_RULES or the packs)"),
    replication: Optional[int] = typer.Option(None, "--replication", help="replication factor to plan (default: min(3, brokers) of the cluster, or 3 without one)"),
) -> None:
    """Print every topic the service needs: partitions, replication, retention, cleanup policy, key."""
    from core.provisioning import cluster_replication, format_plan

    setup_logging()
    with _config_errors():
        settings, items = _planned(rules)
        if replication is None:
            replication = asyncio.run(cluster_replication(settings)) if settings.bootstrap else 3
        typer.echo(format_plan(items, replication))


@topics_app.command("apply")
def topics_apply(rules: Optional[Path] = typer.Option(None, "--rules", help="rules folder (default: WATCHFLOOR_RULES or the packs)")) -> None:
    """Create the missing topics as planned; report drift on existing ones without changing them (exit 1)."""
    from core.provisioning import apply

    setup_logging()
    with _config_errors():
        settings, items = _planned(rules)
        settings.require_bootstrap()
        created, drift = asyncio.run(apply(settings, items))
    for name in created:
        typer.echo(f"created {name}")
    for d in drift:
        typer.echo(str(d))
    typer.echo(f"{len(items)} topics planned, {len(created)} created, {len(items) - len(created)} existed, "
               f"{len(drift)} drift finding(s)")
    if drift:
        raise typer.Exit(1)


silence_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="Silence alerts for a while (kept in Kafka).")
app.add_typer(silence_app, name="silence")


def _duration(text: str):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from rules.model import parse_duration

    try:
        return timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@silence_app.command("add")
def silence_add(
    rule: Optional[str] = typer.Option(None, "--rule", help="alert rule id to silence"),
    match: Optional[list[str]] = typer.Option(None, "--match", help="term (rule syntax); repeat for several"),
    duration: str = typer.Option("2h", "--for", help="how long: 30m, 2h, 1d"),
    reason: str = typer.Option(..., "--reason", help="why; shown in `silence list`"),
) -> None:
    """Silence an alert rule, or alerts whose story matches terms, for a while."""
    import getpass

    from alerting.silences import add_silence
    from rules.engine import TermError

    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        try:
            s = asyncio.run(add_silence(settings, rule, list(match or []), _duration(duration), reason, getpass.getuser()))
        except TermError as exc:
            raise ConfigError(str(exc)) from None
        typer.echo(f"silence {s.id} until {s.expires.isoformat(timespec='seconds')}")


@silence_app.command("list")
def silence_list(all_: bool = typer.Option(False, "--all", help="include expired silences")) -> None:
    """Active silences (id, until, rule or terms, reason)."""
    from alerting.silences import list_silences

    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        for s in asyncio.run(list_silences(settings, include_expired=all_)):
            what = f"rule={s.rule}" if s.rule else "match=" + ",".join(s.match)
            typer.echo(f"{s.id}  until {s.expires.isoformat(timespec='seconds')}  {what}  reason={s.reason!r}  by={s.created_by}")


@silence_app.command("expire")
def silence_expire(silence_id: str = typer.Argument(...)) -> None:
    """End a silence now."""
    from alerting.silences import expire_silence

    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()
        s = asyncio.run(expire_silence(settings, silence_id))
        typer.echo(f"silence {s.id} expired")


@app.command()
def tail(
    topic: str = typer.Argument(..., help="topic name, with or without the prefix (e.g. headlines.raw)"),
    from_beginning: bool = typer.Option(False, "--from-beginning"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="stop after N messages"),
    follow: bool = typer.Option(True, "--follow/--no-follow", help="keep waiting for new messages"),
) -> None:
    """Print a topic's messages as JSON lines."""
    from watchfloor.tail import tail_topic

    setup_logging("WARNING")
    settings = Settings.from_env()
    with _config_errors():
        settings.require_bootstrap()

        async def main(stop: asyncio.Event) -> None:
            async for value in tail_topic(settings, topic, from_beginning, limit, follow, stop):
                sys.stdout.write(value + "\n")
                sys.stdout.flush()

        _run_until_signal(main)


@app.command()
def schemas(
    write: Optional[Path] = typer.Option(None, "--write", help="write the JSON Schema files into this folder"),
) -> None:
    """Print (or write) the JSON Schemas of every message type."""
    from watchfloor.schemas import render_schemas, write_schemas

    if write:
        for path in write_schemas(write):
            typer.echo(str(path))
    else:
        typer.echo(json.dumps({name: json.loads(text) for name, text in render_schemas().items()}, indent=2))


@app.command()
def run(
    feeds: Optional[Path] = typer.Option(None, "--feeds", help="feeds file (default: WATCHFLOOR_FEEDS or the samples)"),
    rules: Optional[Path] = typer.Option(None, "--rules", help="rules folder (default: WATCHFLOOR_RULES or the shipped packs)"),
    fresh: bool = typer.Option(False, "--fresh", help="start the embedded broker with empty storage (the demo from scratch)"),
) -> None:
    """Run every stage in one process; starts an embedded Kafka when WATCHFLOOR_KAFKA_BOOTSTRAP is unset."""
    from watchfloor.quickstart import run_all

    setup_logging()
    with _config_errors():
        health.expect("ingest", "process", "alert", "notify")
        health.serve("run")
        run_all(Settings.from_env(), feeds, rules, fresh=fresh)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
