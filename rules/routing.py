"""Which alert rules a classified headline concerns: stateless, so the classify stage can hand
each headline to the partition owning each rule without knowing anything of alert state."""

from __future__ import annotations

from core.contracts import ClassifiedHeadline
from rules.loader import RuleSet
from rules.model import SEVERITIES, AlertRule


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def event_bucket(headline: ClassifiedHeadline) -> str:
    """The alert stage's partition key: the country of the headline's most specific place, or
    "-". Reports of one event name the same country whatever their language, so one worker holds
    all of an event; a report that names no place meets only events of other such reports."""
    return headline.places[0].country if headline.places else "-"


def concerned_rules(ruleset: RuleSet, headline: ClassifiedHeadline) -> list[AlertRule]:
    """The alert rules whose category, severity, place and term filters this headline passes."""
    if not ruleset.alerts or not headline.categories:
        return []
    term_hits: set[str] | None = None
    out = []
    for rule in ruleset.alerts:
        cats = [c for c in headline.categories if c.id in rule.when.categories]
        if not cats:
            continue
        if rule.when.severity_at_least and max(rank(c.severity) for c in cats) < rank(rule.when.severity_at_least):
            continue
        if rule.when.where is not None:
            place_filter = ruleset.place_filters.get(rule.id)
            if place_filter is None or not place_filter.matches(headline.places):
                continue
        if rule.when.terms:
            if term_hits is None:
                engine = ruleset.alert_terms
                term_hits = {m.id for m in engine.classify(headline.title, headline.summary)} if engine else set()
            if rule.id not in term_hits:
                continue
        out.append(rule)
    return out
