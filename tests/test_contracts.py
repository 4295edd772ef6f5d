"""The published schemas are what downstream consumers code against: they must match the code."""

import json
from datetime import datetime, timezone

from core.contracts import MESSAGE_TYPES, RawHeadline
from watchfloor.schemas import render_schemas
from tests.conftest import ROOT

SCHEMAS = ROOT / "docs" / "schemas"


def test_published_schemas_match_the_code():
    rendered = render_schemas()
    for name, text in rendered.items():
        path = SCHEMAS / name
        assert path.exists(), f"{path} missing: run `watchfloor schemas --write docs/schemas`"
        assert json.loads(path.read_text()) == json.loads(text), f"{name} drifted: run `watchfloor schemas --write docs/schemas`"


def test_every_message_carries_its_schema_id():
    for schema_id, model in MESSAGE_TYPES.items():
        assert model.model_json_schema(by_alias=True)["properties"]["schema"]["const"] == schema_id


def test_raw_headline_round_trips_as_utf8_json_with_utc_times():
    h = RawHeadline(
        id="abc", feed_id="kyiv", source="Київ", title="Удар по Харкову", fetched=datetime(2025, 11, 20, 12, 0, tzinfo=timezone.utc),
        published=datetime.fromisoformat("2025-11-20T14:00:00+02:00"),
    )
    data = json.loads(h.to_bytes().decode("utf-8"))
    assert data["schema"] == "headline.raw/1"
    assert data["title"] == "Удар по Харкову"
    assert data["published"] == "2025-11-20T12:00:00Z"
    assert RawHeadline.from_bytes(h.to_bytes()) == h


def test_readers_ignore_unknown_fields():
    data = json.loads(RawHeadline(id="a", feed_id="f", source="s", title="t", fetched=datetime.now(timezone.utc)).to_bytes())
    data["added_later"] = 1
    assert RawHeadline.model_validate(data).id == "a"
