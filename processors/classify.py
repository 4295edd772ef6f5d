"""The classification step, free of faust: raw message bytes in, classified headline out."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import ValidationError

from rules.loader import RuleSet
from rules.places import tag
from rules.places.forms import tokens_with_case
from core.contracts import CategoryMatch, ClassifiedHeadline, Place, RawHeadline


class BadMessage(ValueError):
    """A raw-topic message that is not a `headline.raw` document; logged and skipped, never fatal."""


def parse_raw(value: bytes | None) -> RawHeadline:
    if value is None:
        raise BadMessage("empty message")
    try:
        return RawHeadline.from_bytes(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadMessage(f"not a headline.raw message: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def classify_headline(raw: RawHeadline, ruleset: RuleSet, now: datetime | None = None) -> ClassifiedHeadline:
    """Categories and places of one headline; the text is cut into words once for both."""
    title = tokens_with_case(raw.title)
    summary = tokens_with_case(raw.summary) if raw.summary else []
    matches = ruleset.engine.classify_words([w for _, w in title], [w for _, w in summary])
    places = tag(raw.title, raw.summary, raw.language, title_tokens=title, summary_tokens=summary)
    return ClassifiedHeadline(
        **raw.model_dump(exclude={"schema_"}),
        categories=[CategoryMatch(id=m.id, severity=m.severity, matched=list(m.matched)) for m in matches],
        places=[Place(**p.as_dict()) for p in places],
        rules_version=ruleset.version,
        classified=now or datetime.now(timezone.utc),
    )
