"""Schema evolution: every message type is compared with its last released schema under
docs/schemas/released/; an incompatible change fails unless the version was bumped, and a
bumped version still reads the previous one."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Literal, Optional

import pytest
from pydantic import BaseModel, Field

from tests.conftest import ROOT
from core.contracts import MESSAGE_TYPES, UPGRADES, Message, RawHeadline, UnknownSchema, json_schema, read_message
from core.schema_compat import incompatibilities

RELEASED = ROOT / "docs" / "schemas" / "released"


def released_versions(name: str) -> dict[int, dict]:
    return {int(p.name.split(".v")[-1].removesuffix(".json")): json.loads(p.read_text())
            for p in RELEASED.glob(f"{name}.v*.json") if p.name.split(".v")[0] == name}


def validation_required(model: type[BaseModel]) -> set[str]:
    return set(model.model_json_schema(by_alias=True, mode="validation").get("required", []))


@pytest.mark.parametrize("schema_id", sorted(MESSAGE_TYPES))
def test_every_message_type_is_compatible_with_its_last_release_or_bumped(schema_id):
    name, version = schema_id.split("/")
    current = int(version)
    released = released_versions(name)
    assert released, f"{name}: no released schema under {RELEASED}; copy docs/schemas/{name}.v{current}.json there"
    last = max(released)
    model = MESSAGE_TYPES[schema_id]
    problems = incompatibilities(released[last], json_schema(model, schema_id), validation_required(model) - {"schema"})
    if current == last:
        assert not problems, (f"{schema_id} changed incompatibly since its release: {problems}. Bump it to "
                              f"{name}/{current + 1} and add a reader for {name}/{current} to UPGRADES")
    else:
        assert current == last + 1, f"{schema_id}: the last released version is {last}; bump by one"
        assert f"{name}/{last}" in UPGRADES, f"readers must still accept {name}/{last}: add it to UPGRADES"


# --- the checker itself, on small models --------------------------------------------------------


class Report(BaseModel):
    source: str
    link: Optional[str] = None


class V1(Message):
    schema_: Literal["demo/1"] = Field("demo/1", alias="schema")
    id: str
    count: int
    tags: list[str] = []
    reports: list[Report] = []


def schema_of(model: type[Message]) -> dict:
    return model.model_json_schema(by_alias=True, mode="serialization")


def check(new: type[Message]) -> list[str]:
    return incompatibilities(schema_of(V1), schema_of(new), validation_required(new) - {"schema"})


def test_adding_an_optional_field_is_compatible():
    class Added(V1):
        note: Optional[str] = None

    assert check(Added) == []


@pytest.mark.parametrize("change, expected", [
    ("removed", "count: removed"),
    ("retyped", "count: type changed: integer → string"),
    ("required", "region: required by new readers"),
    ("nested", "reports[].source: type changed"),
    ("not-nullable", "reports[].link: type changed: nullable → not nullable"),
])
def test_incompatible_changes_are_named(change, expected):
    if change == "removed":
        class New(Message):
            schema_: Literal["demo/1"] = Field("demo/1", alias="schema")
            id: str
            tags: list[str] = []
            reports: list[Report] = []
    elif change == "retyped":
        class New(V1):  # type: ignore[no-redef]
            count: str  # type: ignore[assignment]
    elif change == "required":
        class New(V1):  # type: ignore[no-redef]
            region: str
    elif change == "nested":
        class Report2(BaseModel):
            source: int
            link: Optional[str] = None

        class New(V1):  # type: ignore[no-redef]
            reports: list[Report2] = []  # type: ignore[assignment]
    else:
        class Report3(BaseModel):
            source: str
            link: str = ""

        class New(V1):  # type: ignore[no-redef]
            reports: list[Report3] = []  # type: ignore[assignment]
    problems = check(New)
    assert any(expected in p for p in problems), problems


def test_a_reader_accepts_the_previous_version_through_its_upgrade(monkeypatch):
    """What bumping headline.raw to /2 would look like: /1 messages still read, as /2."""
    class RawV2(RawHeadline):
        schema_: Literal["headline.raw/2"] = Field("headline.raw/2", alias="schema")  # type: ignore[assignment]
        region: str

    monkeypatch.setitem(MESSAGE_TYPES, "headline.raw/2", RawV2)
    monkeypatch.delitem(MESSAGE_TYPES, "headline.raw/1")
    monkeypatch.setitem(UPGRADES, "headline.raw/1", ("headline.raw/2", lambda doc: {**doc, "region": "unknown"}))
    old = RawHeadline(id="a", feed_id="f", source="s", title="t", fetched=datetime.now(timezone.utc)).to_bytes()
    upgraded = read_message(old)
    assert isinstance(upgraded, RawV2) and upgraded.region == "unknown" and upgraded.title == "t"
    assert read_message(upgraded.to_bytes()) == upgraded
    assert RawV2.from_bytes(old) == upgraded  # what every stage's reader calls
    with pytest.raises(UnknownSchema, match="headline.raw/3"):
        read_message(json.dumps({"schema": "headline.raw/3"}))


def test_every_current_message_reads_back_through_read_message():
    h = RawHeadline(id="a", feed_id="f", source="s", title="t", fetched=datetime.now(timezone.utc))
    assert read_message(h.to_bytes()) == h
