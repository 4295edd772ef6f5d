"""Alert rules over classified headlines, without faust: which rules a headline concerns, how
its reports gather into stories, and when a rule fires or is held back.

State is plain JSON-able dicts so the faust agent keeps it in changelog-backed tables:
- per rule: the recent stories (`RuleStories`), kept for max(window, throttle);
- per rule and group: when it last fired (the throttle).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

from alerting.stories import must_share, same_story, story_tokens
from rules.loader import RuleSet
from rules.model import SEVERITIES, AlertRule
from core.contracts import Alert, ClassifiedHeadline, StoryReport

MAX_REPORTS = 20
MAX_STORIES_PER_RULE = 500
MAX_MATCHED_SHOWN = 8  # a watch officer needs a hint of why, not the whole rule  # a flood of distinct stories must not grow one table value without bound


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def concerned_rules(ruleset: RuleSet, headline: ClassifiedHeadline) -> list[AlertRule]:
    """The alert rules whose category, severity and term filters this headline passes (stateless)."""
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
        if rule.when.terms:
            if term_hits is None:
                engine = ruleset.alert_terms
                term_hits = {m.id for m in engine.classify(headline.title, headline.summary)} if engine else set()
            if rule.id not in term_hits:
                continue
        out.append(rule)
    return out


def add_report(stories: list[dict], headline: ClassifiedHeadline, rule: AlertRule, now: float) -> dict:
    """Files the headline under its story (a new one if none is similar); prunes old stories."""
    horizon = now - max(rule.window_s, rule.throttle_s)
    stories[:] = [s for s in stories if s["last_seen"] >= horizon][-MAX_STORIES_PER_RULE:]
    tokens = story_tokens(headline.title)
    key_words = must_share(tokens)  # cheap test first: most stories share none of them
    story = next((s for s in reversed(stories)
                  if not key_words.isdisjoint(s["tokens"]) and same_story(frozenset(s["tokens"]), tokens)), None)
    if story is None:
        story = {
            "id": hashlib.sha256(f"{rule.id}\x1f{headline.id}".encode()).hexdigest()[:16],
            "tokens": sorted(tokens), "first_seen": now, "last_seen": now,
            "title": headline.title, "summary": headline.summary,
            "reports": [], "sources": [], "categories": [], "matched": [],
        }
        stories.append(story)
    story["last_seen"] = now
    if not any(r["headline_id"] == headline.id for r in story["reports"]):
        if len(story["reports"]) < MAX_REPORTS:
            story["reports"].append({"headline_id": headline.id, "source": headline.source, "title": headline.title,
                                     "link": headline.link,
                                     "published": headline.published.isoformat() if headline.published else None,
                                     "fetched": headline.fetched.isoformat()})
        if headline.source not in story["sources"]:
            story["sources"].append(headline.source)
    for c in headline.categories:
        if c.id in rule.when.categories:
            if c.id not in story["categories"]:
                story["categories"].append(c.id)
            story["matched"] = sorted(set(story["matched"]) | set(c.matched))
            story.setdefault("severity", c.severity)
            if rank(c.severity) > rank(story["severity"]):
                story["severity"] = c.severity
    return story


@dataclass(frozen=True)
class Decision:
    outcome: str  # fire | pending | throttled
    group: str
    story_count: int


def group_key(rule: AlertRule, story: dict) -> str:
    """What the throttle counts per: the story, its (first) category, or the whole rule."""
    if rule.group_by == "story":
        return story["id"]
    if rule.group_by == "category":
        return story["categories"][0] if story["categories"] else rule.id
    return rule.id


def decide(rule: AlertRule, stories: list[dict], story: dict, last_fired: float | None, now: float) -> Decision:
    since = now - rule.window_s
    in_window = sum(1 for s in stories if s["last_seen"] >= since)
    group = group_key(rule, story)
    if len(story["sources"]) < rule.when.sources_at_least or in_window < rule.when.count_at_least:
        return Decision("pending", group, in_window)
    if last_fired is not None and now - last_fired < rule.throttle_s:
        return Decision("throttled", group, in_window)
    return Decision("fire", group, in_window)


def build_alert(rule: AlertRule, story: dict, decision: Decision, trigger_id: str, now: float, rules_version: str) -> Alert:
    """Deterministic id (rule, group, triggering headline): reprocessing after a crash yields the
    same alert, which the notifiers' delivery log then sends only once."""
    return Alert(
        id=hashlib.sha256(f"{rule.id}\x1f{decision.group}\x1f{trigger_id}".encode()).hexdigest()[:32],
        rule_id=rule.id,
        severity=rule.severity or story.get("severity", "medium"),
        group_by=rule.group_by,
        group=decision.group,
        story_id=story["id"],
        title=story["title"],
        summary=story["summary"],
        categories=list(story["categories"]),
        matched=list(story["matched"])[:MAX_MATCHED_SHOWN],
        reports=[StoryReport(**r) for r in story["reports"]],
        source_count=len(story["sources"]),
        story_count=decision.story_count if rule.when.count_at_least > 1 else 1,
        first_seen=datetime.fromtimestamp(story["first_seen"], timezone.utc),
        fired=datetime.fromtimestamp(now, timezone.utc),
        notify=list(rule.notify),
        template=rule.template,
        rules_version=rules_version,
    )
