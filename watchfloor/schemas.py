"""Every published JSON Schema in one place: the message types and the rule file format."""

from __future__ import annotations

import json
from pathlib import Path

from core.contracts import render_schemas as message_schemas
from rules.model import rules_json_schema


def render_schemas() -> dict[str, str]:
    """File name -> JSON text, as docs/schemas/ holds them."""
    out = message_schemas()
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
