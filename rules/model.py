"""The rule file format, as typed models: the single source of `docs/schemas/rules.schema.json`."""

from __future__ import annotations

from functools import lru_cache

from typing import Annotated, Literal, Optional, Union

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
    follow_up: bool = Field(False, description="a later report of an event, not an event of its own (\"death toll rises "
                                               "to 26\", \"rescuers clear the rubble\"): it joins an open event at "
                                               "the same place, of a category `follows` names, and updates it; it "
                                               "never opens an event, so no alert rule fires on it alone")
    follows: list[str] = Field(default_factory=list, description="for a `follow_up` rule: the categories whose events "
                                                            "it may update (a death toll joins a strike, not a spy's "
                                                            "arrest in the same city); empty: any category")
    venue: bool = Field(False, description="the places its reports name are where people meet, sign or are arrested "
                                           "(talks in Istanbul, a deal signed in Paris), not what happened to them: "
                                           "two such reports naming one city are one event only if they also share "
                                           "a name, number or rare word and their words are alike")
    match: Condition
    tests: RuleTests = Field(default_factory=RuleTests)


DURATION_PATTERN = r"^\s*(\d+\s*[smhd]\s*)+$"


@lru_cache(maxsize=4096)  # alert rules read their window and throttle for every headline
def parse_duration(text: str) -> float:
    """'90s', '15m', '1h30m', '2d' -> seconds."""
    import re

    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"bad duration {text!r}: use a number and a unit s, m, h or d, e.g. 15m or 1h30m")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return float(sum(int(n) * unit[u] for n, u in re.findall(r"(\d+)\s*([smhd])", text)))


Duration = Annotated[str, Field(pattern=DURATION_PATTERN, description="a number and a unit s, m, h or d: 90s, 15m, 1h30m, 2d")]


class Near(BaseModel):
    """An asset to watch: a port, a plant, a base. A headline naming a city within `km` of it matches."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    km: float = Field(gt=0, le=2000, description="radius in kilometres")
    name: str = Field("", description="what is there, shown in `rules test` (e.g. 'Port of Gdansk')")


class AlertWhere(BaseModel):
    """Where the headline must have happened: any of its places in any of these (see docs/rules.md)."""

    model_config = ConfigDict(extra="forbid")

    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes or English names")
    regions: list[str] = Field(default_factory=list, description="first-level regions: names in English, Ukrainian or Russian, or GeoNames codes such as UA.05")
    places: list[Union[int, str]] = Field(default_factory=list, description="cities, regions or countries by name, or GeoNames ids")
    near: list[Near] = Field(default_factory=list, description="within km of a point")


class AlertWhen(BaseModel):
    """What a classified headline must satisfy for the rule to consider it."""

    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(min_length=1, description="any of these category ids")
    severity_at_least: Optional[Severity] = None
    terms: list[Union[str, Condition]] = Field(default_factory=list, description="any of these terms (category term syntax)")
    sources_at_least: int = Field(1, ge=1, description="distinct sources reporting the same story")
    count_at_least: int = Field(1, ge=1, description="matching stories within the window (spikes)")
    where: Optional[AlertWhere] = Field(None, description="places: the headline must name one of these")


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_-]+$", description="unique among alert rules")
    title: str = ""
    when: AlertWhen
    window: Duration = "15m"
    group_by: Literal["story", "category", "rule"] = "story"
    throttle: Duration = "1h"
    severity: Optional[Severity] = Field(None, description="default: the highest severity among the matched categories")
    notify: list[str] = Field(min_length=1, description="Apprise tags")
    template: Optional[str] = Field(None, description="message template; fields {title} {summary} {severity} {rule_id} {source_count} {story_count} {categories} {links}")

    @property
    def window_s(self) -> float:
        return parse_duration(self.window)

    @property
    def throttle_s(self) -> float:
        return parse_duration(self.throttle)


class RuleFile(BaseModel):
    """One YAML file of the rules folder."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"title": "Watchfloor rule file"})

    rules: list[CategoryRule] = Field(default_factory=list)
    alerts: list[AlertRule] = Field(default_factory=list)


KNOWN_KEYS = sorted(
    set(RuleFile.model_fields) | set(CategoryRule.model_fields) | set(Condition.model_fields) | set(RuleTests.model_fields)
    | set(AlertRule.model_fields) | set(AlertWhen.model_fields) | set(AlertWhere.model_fields) | set(Near.model_fields)
)


def rules_json_schema() -> dict:
    """Published as docs/schemas/rules.schema.json so editors complete and validate rule files."""
    schema = RuleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://watchfloor.example/schemas/rules.schema.json"
    return schema
