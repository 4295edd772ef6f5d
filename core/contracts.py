"""Message contracts of every topic: what downstream consumers may rely on.

Each message is UTF-8 JSON carrying ``"schema": "<name>/<version>"``. The JSON Schema files
under ``docs/schemas/`` are generated from these models (`watchfloor schemas --write`), and a
test fails when code and published schema drift apart.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Callable, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def _json_or_none(data: bytes | str) -> object:
    try:
        return json.loads(data)
    except ValueError:
        return None


class Message(BaseModel):
    """Readers ignore fields they do not know, so adding an optional field never breaks them."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes):  # type: ignore[no-untyped-def]
        """The current version, or an earlier one still on the topic, upgraded (see UPGRADES)."""
        try:
            return cls.model_validate_json(data)
        except ValidationError:
            doc = _json_or_none(data) if UPGRADES else None
            if isinstance(doc, dict) and doc.get("schema") in UPGRADES:
                message = read_message(doc)
                if isinstance(message, cls):
                    return message
            raise


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


class Place(BaseModel):
    """A place a headline names (a toponym, not a demonym), from the GeoNames gazetteer."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int = Field(description="GeoNames id: the same whatever the language (Тернопіль, Тернополь and Ternopil are one id)")
    name: str = Field(description="English name (GeoNames)")
    kind: Literal["city", "region", "country"] = Field(description="region: a first-level division (oblast, US state, ...)")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code of the country it is in (or is)")
    admin1: str | None = Field(None, description="GeoNames first-level division code within the country (UA: \"22\" is Ternopil Oblast), or null")
    lat: float = Field(ge=-90, le=90, description="Latitude (WGS84) of the city, or a point inside the region or country")
    lon: float = Field(ge=-180, le=180, description="Longitude (WGS84)")


class ClassifiedHeadline(RawHeadline):
    """A raw headline plus its categories and places, on `<prefix>.headlines.classified` (every
    headline) and on `<prefix>.category.<id>` (each headline that matched that category). Keyed by `id`."""

    schema_: Literal["headline.classified/2"] = Field(  # type: ignore[assignment]
        "headline.classified/2", alias="schema", serialization_alias="schema"
    )
    categories: list[CategoryMatch] = Field(description="Matched categories; empty when none matched")
    places: list[Place] = Field(description="Places the title and summary name, most specific first (cities, "
                                            "regions, countries), each once, at most 10; empty when none")
    rules_version: str = Field(description="Version (content hash) of the rule set that classified it")
    classified: UtcDatetime = Field(description="RFC 3339 UTC time of classification")


class StoryReport(BaseModel):
    """One feed's report of a story: what a watch officer clicks to read it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    headline_id: str
    source: str
    title: str
    link: str | None = None
    published: UtcDatetime | None = None
    fetched: UtcDatetime | None = Field(None, description="When the report's feed was fetched (for end-to-end latency)")
    language: str | None = Field(None, description="Language of the report (the feed's, else guessed: en, uk, ru), or null")


class EventRef(BaseModel):
    """One event a summary alert counts: enough to read it and find it on `<prefix>.events`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(description="Event id (key on <prefix>.events)")
    title: str
    place: str | None = Field(None, description="Its most specific place, as \"Ternopil, Ukraine\", or null")
    link: str | None = None
    source_count: int
    first_seen: UtcDatetime


class Casualties(BaseModel):
    """Figures the event's reports give; the latest one given wins (tolls are revised upwards)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    killed: int | None = None
    injured: int | None = None


class Alert(Message):
    """An alert rule fired, on `<prefix>.alerts`, keyed by `id`. Text fields are feed text,
    cleaned but not escaped: each notifier escapes them for its channel."""

    schema_: Literal["alert/1"] = Field("alert/1", alias="schema", serialization_alias="schema")
    id: str = Field(description="Unique id of this alert: hash of rule id, group key and the group's first report")
    rule_id: str = Field(description="Alert rule that fired")
    severity: Literal["info", "low", "medium", "high", "critical"]
    group_by: Literal["story", "category", "rule"]
    group: str = Field(description="Group key the throttle applies to (story id, category id or rule id)")
    story_id: str = Field(description="Story the alert is about (near-duplicate headlines share it)")
    title: str = Field(description="Title of the story (its first report)")
    summary: str = Field("", description="Summary of the story's first report")
    categories: list[str] = Field(description="Categories of the story's reports")
    places: list[Place] = Field(default_factory=list, description="Places the story's reports name, most specific first")
    matched: list[str] = Field(default_factory=list, description="Terms that matched, as written in the rules")
    reports: list[StoryReport] = Field(description="Reports of the story so far, first first, at most 20")
    source_count: int = Field(description="Distinct sources that reported the story")
    story_count: int = Field(1, description="Matching stories in the rule's window (for spike rules)")
    first_seen: UtcDatetime = Field(description="When the story's first report was classified")
    fired: UtcDatetime = Field(description="When the alert fired")
    notify: list[str] = Field(description="Apprise tags to deliver to")
    template: str | None = Field(None, description="Operator's message template ({title}, {source_count}, ...), or null for the default")
    rules_version: str
    kind: Literal["alert", "update", "summary"] = Field(
        "alert", description="alert: an event's first alert to these tags; update: the event grew (title starts "
                             "with 'Update:'); summary: a count_at_least rule's count of events")
    event_id: str | None = Field(None, description="The event (key on <prefix>.events); null for a summary")
    rules: list[str] = Field(default_factory=list, description="Every alert rule this message speaks for (rule_id first)")
    languages: list[str] = Field(default_factory=list, description="Languages the event was reported in")
    changes: list[str] = Field(default_factory=list, description="update: what changed since the last message, one line each")
    update_of: str | None = Field(None, description="update: id of the event's first alert (mail threads on it)")
    events: list[EventRef] = Field(default_factory=list, description="summary: the events counted, newest first")
    casualties: Casualties | None = Field(None, description="Figures the event's reports give, or null")


class Event(Message):
    """One real-world event's current state, on the compacted `<prefix>.events`, keyed by `id`:
    every report about it (any feed, language or rule), where, and what was alerted."""

    schema_: Literal["event/1"] = Field("event/1", alias="schema", serialization_alias="schema")
    id: str = Field(description="Event id: hash of its first report's id; stable across replays")
    title: str = Field(description="Title of its earliest English report, else of its earliest report")
    first_seen: UtcDatetime = Field(description="Publication (else classification) time of its earliest report")
    last_seen: UtcDatetime = Field(description="Publication (else classification) time of its latest report")
    categories: list[str]
    severity: Literal["info", "low", "medium", "high", "critical"]
    places: list[Place] = Field(description="Places its reports name, most specific first, at most 10")
    reports: list[StoryReport] = Field(description="Its reports, earliest first, at most 50")
    report_count: int = Field(description="Reports filed, including any beyond the 50 listed")
    sources: list[str] = Field(description="Distinct sources, first first, at most 100")
    source_count: int
    languages: list[str]
    casualties: Casualties | None = None
    rules: list[str] = Field(description="Alert rules its reports concern")
    alerts: list[str] = Field(description="Ids of the alerts and updates sent about it, first first")
    updated: UtcDatetime = Field(description="When this state was written")
    merged: list[str] = Field(default_factory=list, description=(
        "Ids of events merged into this one (a report showed them to be one happening); each was "
        "deleted from this topic with a tombstone"))


class DeadLetter(Message):
    """An alert a channel could not take after the retry budget, on `<prefix>.alerts.dead`, keyed
    by alert id. `channel` is the Apprise URL in its privacy form (no secrets)."""

    schema_: Literal["alert.dead/1"] = Field("alert.dead/1", alias="schema", serialization_alias="schema")
    alert: Alert
    tag: str = Field(description="Apprise tag the channel was reached through")
    channel: str = Field(description="Apprise URL with secrets masked (Apprise privacy rendering)")
    reason: str = Field(description="Why delivery failed, secrets masked")
    attempts: int
    failed: UtcDatetime


class Silence(Message):
    """A silence, on the compacted `<prefix>.silences` topic keyed by `id`; every worker honours it."""

    schema_: Literal["silence/1"] = Field("silence/1", alias="schema", serialization_alias="schema")
    id: str
    rule: str | None = Field(None, description="Alert rule id to silence, or null")
    match: list[str] = Field(default_factory=list, description="Terms: silences alerts whose story matches any")
    reason: str
    created: UtcDatetime
    expires: UtcDatetime
    created_by: str = ""


class ProcessingDeadLetter(Message):
    """A message a stage could not process, on `<prefix>.processing.dead`, keyed like the input.
    The stage moved on; the original bytes are kept (as text, capped) so it can be replayed."""

    schema_: Literal["processing.dead/1"] = Field("processing.dead/1", alias="schema", serialization_alias="schema")
    stage: str = Field(description="Stage that gave up on it: classify or alerting")
    reason: str = Field(description="Why: the parse or processing error, one line")
    topic: str = Field(description="Topic the message was read from")
    partition: int
    offset: int
    key: str | None = Field(None, description="The message key, as UTF-8 text (invalid bytes replaced)")
    value: str | None = Field(None, description="The message value, as UTF-8 text (invalid bytes replaced), at most 64 KiB")
    failed: UtcDatetime


MESSAGE_TYPES: dict[str, type[Message]] = {
    "headline.raw/1": RawHeadline,
    "headline.classified/2": ClassifiedHeadline,
    "alert/1": Alert,
    "event/1": Event,
    "alert.dead/1": DeadLetter,
    "silence/1": Silence,
    "processing.dead/1": ProcessingDeadLetter,
}


# Readers of earlier versions still on the topics: schema id -> upgrade to the current model's
# input. An incompatible change adds its previous version here (see docs/topics.md, "Schema evolution").
UPGRADES: dict[str, tuple[str, "Callable[[dict], dict]"]] = {
    # headline.classified/2 added the required `places`; a /1 headline named none we know of
    "headline.classified/1": ("headline.classified/2", lambda doc: {"places": [], **doc}),
}


class UnknownSchema(ValueError):
    """A message whose `schema` this reader does not know (a newer producer, or another topic)."""


def read_message(data: bytes | str | dict) -> Message:
    """Any message of our topics, current or previous version, as the current model."""
    doc = data if isinstance(data, dict) else json.loads(data)
    schema_id = doc.get("schema") if isinstance(doc, dict) else None
    if schema_id in UPGRADES:
        schema_id, upgrade = UPGRADES[schema_id]
        doc = {**upgrade(doc), "schema": schema_id}
    model = MESSAGE_TYPES.get(schema_id)  # type: ignore[arg-type]
    if model is None:
        raise UnknownSchema(f"unknown message schema {schema_id!r}; this reader knows {sorted([*MESSAGE_TYPES, *UPGRADES])}")
    return model.model_validate(doc)


def schema_file_name(schema_id: str) -> str:
    name, version = schema_id.split("/")
    return f"{name}.v{version}.json"


def json_schema(model: type[Message], schema_id: str) -> dict:
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://watchfloor.example/schemas/{schema_file_name(schema_id)}"
    return schema


def render_schemas() -> dict[str, str]:
    """File name -> JSON text of every message type's schema (the rule file format's schema is
    the rules package's; `watchfloor schemas` writes both)."""
    return {
        schema_file_name(sid): json.dumps(json_schema(model, sid), indent=2, ensure_ascii=False) + "\n"
        for sid, model in MESSAGE_TYPES.items()
    }
