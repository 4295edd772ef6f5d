"""The rule file format, as typed models: the single source of `docs/schemas/rules.schema.json`."""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

SEVERITIES = ("info", "low", "medium", "high", "critical")
Severity = Literal["info", "low", "medium", "high", "critical"]


class Condition(BaseModel):
    """`any`: at least one item matches; `all`: every item matches; `none`: no item matches."""

    model_config = ConfigDict(extra="forbid")

    any: list[Union[str, "Condition"]] = Field(default_factory=list, description="at least one must match")
    all: list[Union[str, "Condition"]] = Field(default_factory=list, description="every one must match")
    none: list[Union[str, "Condition"]] = Field(default_factory=list, description="any match vetoes the rule")


class RuleTests(BaseModel):
    """Inline examples, checked by `watchfloor rules check` and by every reload."""

    model_config = ConfigDict(extra="forbid")

    match: list[str] = Field(default_factory=list, description="headlines this rule must match")
    no_match: list[str] = Field(default_factory=list, description="headlines this rule must not match")


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$", description="unique; names the topic <prefix>.category.<id>")
    title: str = Field(description="human name of the category")
    description: str = ""
    severity: Severity = "medium"
    fields: list[Literal["title", "summary"]] = Field(default_factory=lambda: ["title", "summary"], min_length=1)
    match: Condition
    tests: RuleTests = Field(default_factory=RuleTests)


class RuleFile(BaseModel):
    """One YAML file of the rules folder."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"title": "Watchfloor rule file"})

    rules: list[CategoryRule] = Field(default_factory=list)


KNOWN_KEYS = sorted(
    set(RuleFile.model_fields) | set(CategoryRule.model_fields) | set(Condition.model_fields) | set(RuleTests.model_fields)
)


def rules_json_schema() -> dict:
    """Published as docs/schemas/rules.schema.json so editors complete and validate rule files."""
    schema = RuleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://watchfloor.example/schemas/rules.schema.json"
    return schema
