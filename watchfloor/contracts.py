"""Message contracts of every topic: what downstream consumers may rely on.

Each message is UTF-8 JSON carrying ``"schema": "<name>/<version>"``. The JSON Schema files
under ``docs/schemas/`` are generated from these models (`watchfloor schemas --write`), and a
test fails when code and published schema drift apart.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Message(BaseModel):
    """Readers ignore fields they do not know, so adding an optional field never breaks them."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes):  # type: ignore[no-untyped-def]
        return cls.model_validate_json(data)


class RawHeadline(Message):
    """One feed entry as ingested, on `<prefix>.headlines.raw`, keyed by `id`."""

    schema_: Literal["headline.raw/1"] = Field("headline.raw/1", alias="schema", serialization_alias="schema")
    id: str = Field(description="Stable id: sha256 of feed id + entry guid (or link, or title), 32 hex chars")
    feed_id: str = Field(description="Id of the feed in feeds.yaml")
    source: str = Field(description="Publisher name")
    title: str = Field(description="Plain text, HTML stripped, whitespace collapsed, at most 500 chars")
    summary: str = Field("", description="Plain text, HTML stripped, at most 2000 chars")
    link: str | None = Field(None, description="http(s) URL of the article, or null")
    published: UtcDatetime | None = Field(None, description="RFC 3339 UTC publication time from the feed, or null")
    fetched: UtcDatetime = Field(description="RFC 3339 UTC time the feed was fetched")
    language: str | None = Field(None, description="Language tag the feed declares, lower case, or null")


class CategoryMatch(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(description="Category rule id; also names the topic <prefix>.category.<id>")
    severity: Literal["info", "low", "medium", "high", "critical"]
    matched: list[str] = Field(description="The rule's terms, as written, that were found")


class ClassifiedHeadline(RawHeadline):
    """A raw headline plus its categories, on `<prefix>.headlines.classified` (every headline)
    and on `<prefix>.category.<id>` (each headline that matched that category). Keyed by `id`."""

    schema_: Literal["headline.classified/1"] = Field(  # type: ignore[assignment]
        "headline.classified/1", alias="schema", serialization_alias="schema"
    )
    categories: list[CategoryMatch] = Field(description="Matched categories; empty when none matched")
    rules_version: str = Field(description="Version (content hash) of the rule set that classified it")
    classified: UtcDatetime = Field(description="RFC 3339 UTC time of classification")


MESSAGE_TYPES: dict[str, type[Message]] = {
    "headline.raw/1": RawHeadline,
    "headline.classified/1": ClassifiedHeadline,
}


def schema_file_name(schema_id: str) -> str:
    name, version = schema_id.split("/")
    return f"{name}.v{version}.json"


def json_schema(model: type[Message], schema_id: str) -> dict:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://watchfloor.example/schemas/{schema_file_name(schema_id)}"
    return schema


def render_schemas() -> dict[str, str]:
    """File name -> JSON text of every published schema: each message type, and the rule file format."""
    from rules.model import rules_json_schema

    out = {
        schema_file_name(sid): json.dumps(json_schema(model, sid), indent=2, ensure_ascii=False) + "\n"
        for sid, model in MESSAGE_TYPES.items()
    }
    out["rules.schema.json"] = json.dumps(rules_json_schema(), indent=2, ensure_ascii=False) + "\n"
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
