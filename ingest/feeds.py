"""The feeds file: which feeds to poll, how often, and with what limits."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchfloor.settings import ConfigError

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

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not url.startswith(("http://", "https://", "file:")):
            raise ValueError("url must start with http://, https:// or file:")
        return url


def load_feeds(path: Path) -> list[Feed]:
    """Reads and validates a feeds file; `file:` URLs are resolved relative to it."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read feeds file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("feeds"), list):
        raise ConfigError(f"{path}: expected a mapping with a `feeds:` list")
    defaults = doc.get("defaults") or {}
    unknown = set(doc) - {"defaults", "feeds"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    try:
        FeedOptions(**defaults)
    except ValidationError as exc:
        raise ConfigError(f"{path}: defaults: {_errors(exc)}") from None
    feeds: list[Feed] = []
    seen: set[str] = set()
    for i, item in enumerate(doc["feeds"]):
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: feeds[{i}]: expected a mapping")
        try:
            feed = Feed(**{**defaults, **item})
        except ValidationError as exc:
            raise ConfigError(f"{path}: feeds[{i}] ({item.get('id', '?')}): {_errors(exc)}") from None
        if feed.id in seen:
            raise ConfigError(f"{path}: feeds[{i}]: duplicate feed id {feed.id!r}")
        seen.add(feed.id)
        if feed.url.startswith("file:"):
            local = Path(feed.url[5:].removeprefix("//"))
            feed = feed.model_copy(update={"url": "file:" + str((path.parent / local).resolve())})
        feeds.append(feed)
    return feeds


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
