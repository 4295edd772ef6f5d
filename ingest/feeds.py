"""The feeds file: which feeds to poll, how often, and with what limits.

YAML (`defaults:` and `feeds:`) or OPML (a feed reader's export); both report every problem as
`FILE:LINE: message`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.feeds_source import Entry, Problem, Source
from ingest.feeds_yaml import read_yaml
from ingest.opml import looks_like_opml, read_opml
from core.settings import ConfigError

SAMPLE_FEEDS = Path(__file__).parent / "samples" / "feeds.yaml"


class FeedOptions(BaseModel):
    """Per-feed knobs; `defaults:` in the file sets them for every feed."""

    model_config = ConfigDict(extra="forbid")

    interval: float = Field(300, gt=0, description="seconds between polls")
    timeout: float = Field(20, gt=0, description="seconds for one whole fetch, body included")
    max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="larger bodies are refused")
    retries: int = Field(3, ge=0, description="extra attempts on network errors, 429 and 5xx")
    source: str | None = None
    language: str | None = None


class Feed(FeedOptions):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    tags: list[str] = Field(default_factory=list, description="operator's labels (OPML categories and folders)")

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not url.startswith(("http://", "https://", "file:")):
            raise ValueError("url must start with http://, https:// or file:")
        return url

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not tag.strip() or "," in tag or "/" in tag:
                raise ValueError(f"tag {tag!r} must be non-empty, without ',' or '/' (OPML's category separators)")
        return [t.strip() for t in tags]


class FeedsFileError(ConfigError):
    """Every problem of a feeds file, one `FILE:LINE: message` per line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load_feeds(path: Path) -> list[Feed]:
    """Reads and validates a feeds file, YAML or OPML; `file:` URLs are resolved relative to it.

    Raises FeedsFileError (a ConfigError) listing every problem, so one run shows all there is to fix.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FeedsFileError([Problem(path, None, f"cannot read feeds file: {exc.strerror}")]) from None
    if looks_like_opml(path, data):
        source = read_opml(path, data)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FeedsFileError([Problem(path, None, f"cannot read feeds file: not UTF-8 (byte {exc.start})")]) from None
        source = read_yaml(path, text)
    feeds, problems = _validate(path, source)
    if problems:
        raise FeedsFileError(sorted(problems, key=lambda p: p.line or 0))
    return feeds


def _validate(path: Path, source: Source) -> tuple[list[Feed], list[Problem]]:
    problems = list(source.problems)
    defaults: dict = {}
    if source.defaults is not None:
        defaults = dict(source.defaults.fields)
        try:
            FeedOptions(**defaults)
        except ValidationError as exc:
            problems += _problems(path, source.defaults, exc, FeedOptions)
            for bad in {e["loc"][0] for e in exc.errors() if e["loc"]}:  # not repeated for every feed
                defaults.pop(str(bad), None)
    feeds: list[Feed] = []
    first: dict[str, int] = {}
    for entry in source.entries:
        feed_id = entry.fields.get("id")
        if isinstance(feed_id, str) and feed_id in first:
            problems.append(Problem(path, entry.line_of("id"), f"{_name(entry)}: duplicate feed id {feed_id!r} (first at line {first[feed_id]})"))
        elif isinstance(feed_id, str):
            first[feed_id] = entry.line
        try:
            feed = Feed(**{**defaults, **entry.fields})
        except ValidationError as exc:
            problems += _problems(path, entry, exc, Feed)
            continue
        if feed.url.startswith("file:"):
            local = Path(feed.url[5:].removeprefix("//"))
            feed = feed.model_copy(update={"url": "file:" + str((path.parent / local).resolve())})
        feeds.append(feed)
    return feeds, problems


def _problems(path: Path, entry: Entry, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    out = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else ""
        where = ".".join(map(str, err["loc"])) or "value"
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, list(model.model_fields), n=1)
            message = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        elif err["type"] == "missing":
            message = f"{where}: required key missing"
        else:
            message = f"{where}: {err['msg']}"
        out.append(Problem(path, entry.line_of(key), f"{_name(entry)}: {message}"))
    return out


def _name(entry: Entry) -> str:
    feed_id = entry.fields.get("id")
    return f"{entry.label} ({feed_id})" if isinstance(feed_id, str) and feed_id else entry.label
