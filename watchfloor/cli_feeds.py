"""`watchfloor feeds ...`: the feeds file for operators — check it, export it for feed readers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

from ingest.feeds import Feed, FeedsFileError, load_feeds
from ingest.opml import write_opml
from ingest.service import feeds_path
from core.settings import ConfigError, Settings

feeds_app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None,
    help="Check the feeds file, or export it as OPML for feed readers.",
)

FeedsOption = typer.Option(None, "--feeds", help="feeds file, YAML or OPML (default: WATCHFLOOR_FEEDS or the samples)")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _load(override: Path | None) -> tuple[Path, list[Feed]]:
    path = feeds_path(Settings.from_env(), override)
    return path, load_feeds(path)


@feeds_app.command("check")
def check(feeds: Optional[Path] = FeedsOption) -> None:
    """Every problem of the feeds file as FILE:LINE: message; exit 2 if there is any."""
    try:
        path, loaded = _load(feeds)
    except FeedsFileError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2)
    except ConfigError as exc:
        _fail(str(exc))
    typer.echo(f"ok: {len(loaded)} feeds in {path}")


@feeds_app.command("export")
def export(
    feeds: Optional[Path] = FeedsOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="file to write (default: stdout)"),
) -> None:
    """Write the feeds as OPML 2.0, which feed readers import and `--feeds` reads back."""
    try:
        _, loaded = _load(feeds)
    except ConfigError as exc:
        _fail(str(exc))
    document = write_opml(loaded)
    if output is None:
        sys.stdout.write(document)
        return
    try:
        output.write_text(document, encoding="utf-8")
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror}")
