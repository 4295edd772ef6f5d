"""Which alert rules a classified headline concerns: stateless, so the classify stage can hand
each headline to the partition owning each rule without knowing anything of alert state."""

from __future__ import annotations

from core.contracts import ClassifiedHeadline
from rules.loader import RuleSet
from rules.model import SEVERITIES, AlertRule


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def event_bucket(headline: ClassifiedHeadline) -> str:
    """The alert stage's partition key: one for all, so every report can meet every open event.

    A key by place (the country of the first place) split events: "Russia launches 476 drones
    at Ukraine" and "Ukraine says Russia launched 476 drones" name their countries in another
    order, and a report naming no place could never join its event. Grouping needs all reports
    in one place; the alert stage is therefore one active worker (others stand by for a
    takeover), at 0.4-1 ms per report (bench/alerting.py)."""
    del headline
    return "events"


def is_follow_up(ruleset: RuleSet, headline: ClassifiedHeadline) -> bool:
    """Every category of the report is a follow-up one (`follow_up: true`): the alert stage
    files it in an open event at its place, or drops it; it concerns no alert rule by itself."""
    follow = ruleset.follow_up_categories
    return bool(follow and headline.categories) and all(c.id in follow for c in headline.categories)


def follow_up_targets(ruleset: RuleSet, headline: ClassifiedHeadline) -> frozenset[str]:
    """For a follow-up report, the categories of the events it may update: those its follow-up
    rules' `follows` name together; empty when one of them names none (any event)."""
    targets = ruleset.follow_up_targets
    out: set[str] = set()
    for c in headline.categories:
        follows = targets.get(c.id)
        if follows is None:
            continue
        if not follows:
            return frozenset()
        out |= follows
    return frozenset(out)


def is_at_venue(ruleset: RuleSet, headline: ClassifiedHeadline) -> bool:
    """Every category of the report is a venue one (`venue: true`): the city it names is where
    something was said or signed, so sharing it does not make two reports one event."""
    venue = ruleset.venue_categories
    return bool(venue and headline.categories) and all(c.id in venue for c in headline.categories)


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


def alert_work(ruleset: RuleSet, headline: ClassifiedHeadline) -> list[AlertRule] | None:
    """What the alert stage is handed for this headline: the alert rules it concerns, [] for a
    follow-up (it may update an open event), None when the alert stage has nothing to do with it.
    The classify stage and `rules backtest` both decide by this."""
    rules = concerned_rules(ruleset, headline)
    if rules or is_follow_up(ruleset, headline):
        return rules
    return None
