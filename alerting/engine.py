"""Alert rules over classified headlines, without Kafka or faust: which rules a headline concerns,
how its reports gather into stories, and when a rule fires or is held back.

`AlertEngine.step` is the one decision procedure: the live alerting stage runs it per (rule,
headline) in offset order and writes the changelog entries it returns; the backtest runs it over
one in-memory `AlertState` (alerting/state.py). Stories are plain JSON-able dicts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from alerting.state import AlertState, encode_story, story_key, throttle_key
from alerting.stories import story_tokens
from rules.loader import RuleSet
from rules.model import AlertRule
from rules.routing import concerned_rules, rank  # noqa: F401  (re-exported: one routing for classify and alerting)
from core.contracts import Alert, ClassifiedHeadline, Place, StoryReport

if TYPE_CHECKING:  # the book is filled from Kafka by alerting/silences.py; the engine only asks it
    from alerting.silences import SilenceBook

MAX_REPORTS = 20
MAX_STORIES_PER_RULE = 500  # a flood of distinct stories must not grow one rule's state without bound
MAX_MATCHED_SHOWN = 8  # a watch officer needs a hint of why, not the whole rule

FIRE, PENDING, THROTTLED, SILENCED, UNKNOWN = "fire", "pending", "throttled", "silenced", "unknown"


def new_story(rule: AlertRule, headline: ClassifiedHeadline, tokens: frozenset[str], now: float) -> dict:
    """A story opened by this headline; its id depends on rule and headline only, so a replay
    after a crash opens the same story."""
    return {
        "id": hashlib.sha256(f"{rule.id}\x1f{headline.id}".encode()).hexdigest()[:16],
        "tokens": sorted(tokens), "first_seen": now, "last_seen": now,
        "title": headline.title, "summary": headline.summary,
        "reports": [], "sources": [], "categories": [], "matched": [],
    }


def file_report(story: dict, headline: ClassifiedHeadline, rule: AlertRule) -> None:
    """Adds the headline's report, source, categories and terms to its story (once per headline)."""
    if not any(r["headline_id"] == headline.id for r in story["reports"]):
        if len(story["reports"]) < MAX_REPORTS:
            story["reports"].append({"headline_id": headline.id, "source": headline.source, "title": headline.title,
                                     "link": headline.link,
                                     "published": headline.published.isoformat() if headline.published else None,
                                     "fetched": headline.fetched.isoformat()})
        if headline.source not in story["sources"]:
            story["sources"].append(headline.source)
        add_places(story, headline)
    for c in headline.categories:
        if c.id in rule.when.categories:
            if c.id not in story["categories"]:
                story["categories"].append(c.id)
            story["matched"] = sorted(set(story["matched"]) | set(c.matched))
            story.setdefault("severity", c.severity)
            if rank(c.severity) > rank(story["severity"]):
                story["severity"] = c.severity


MAX_PLACES = 10
_KIND_ORDER = {"city": 0, "region": 1, "country": 2}


def add_places(story: dict, headline: ClassifiedHeadline) -> None:
    """The story's places: every report's, each once, most specific first (what the alert names)."""
    places = story.setdefault("places", [])
    known = {p["id"] for p in places}
    new = [p.model_dump() for p in headline.places if p.id not in known]
    if new:
        places.extend(new)
        places.sort(key=lambda p: _KIND_ORDER.get(p["kind"], 3))
        del places[MAX_PLACES:]


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


def judge(rule: AlertRule, story: dict, in_window: int, last_fired: float | None, now: float,
          throttle_s: float | None = None) -> Decision:
    """Enough sources and stories, then not within the group's throttle."""
    group = group_key(rule, story)
    if len(story["sources"]) < rule.when.sources_at_least or in_window < rule.when.count_at_least:
        return Decision(PENDING, group, in_window)
    if last_fired is not None and now - last_fired < (rule.throttle_s if throttle_s is None else throttle_s):
        return Decision(THROTTLED, group, in_window)
    return Decision(FIRE, group, in_window)


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
        places=[Place(**p) for p in story.get("places", [])],
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


@dataclass
class AlertStep:
    """What one (rule, headline) step decided, and the changelog entries it changed."""

    rule_id: str
    outcome: str  # fire | pending (not enough sources or stories yet) | throttled | silenced | unknown (rule gone)
    alert: Alert | None
    silenced_by: str | None
    records: list[tuple[str, bytes | None]] = field(default_factory=list)  # in order; None = tombstone
    story_id: str | None = None
    group: str | None = None


class AlertEngine:
    """The alert rules of one rule set over an `AlertState`: the same steps live and in the backtest."""

    def __init__(self, ruleset: RuleSet, silences: SilenceBook | None = None, *,
                 max_stories: int = MAX_STORIES_PER_RULE, changelog: bool = True) -> None:
        """`changelog=False` is for a replay that keeps its state in memory only (the backtest):
        steps decide alike but return no records, sparing the encoding."""
        self.ruleset = ruleset
        self.silences = silences
        self.max_stories = max_stories
        self.changelog = changelog
        # durations parsed once: (rule, window, throttle, how long its stories are kept)
        self._rules = {r.id: (r, r.window_s, r.throttle_s, max(r.window_s, r.throttle_s)) for r in ruleset.alerts}

    def concerned(self, headline: ClassifiedHeadline) -> list[str]:
        """Alert rule ids this headline concerns: the stage hands it to each rule's partition."""
        return [r.id for r in concerned_rules(self.ruleset, headline)]

    def step(self, state: AlertState, rule_id: str, headline: ClassifiedHeadline, now: float) -> AlertStep:
        """Files the headline under the rule's story and decides: fire, or why not.

        `now` is the headline's classification time, so a replay decides as the first run did
        (silences included). Old stories and throttles are dropped first, with tombstones."""
        plan = self._rules.get(rule_id)
        if plan is None:
            return AlertStep(rule_id, UNKNOWN, None, None, [])  # removed by a reload since
        rule, window, throttle, horizon = plan
        stories = state.stories(rule_id)
        gone = stories.expire(now - horizon, self.max_stories)
        # a throttle is kept a horizon longer than it holds: headlines a little out of order still meet it
        ended = state.expire_throttles(rule_id, now - throttle - horizon)
        records: list[tuple[str, bytes | None]] = []
        if self.changelog:
            records += [(story_key(rule_id, sid), None) for sid in gone]
            records += [(key, None) for key in ended]
        tokens = story_tokens(headline.title)
        story = stories.match(tokens)
        if story is None:
            opened = new_story(rule, headline, tokens, now)
            # the same headline again, with a title of no words, matches nothing: it keeps its story
            story = stories.stories.get(opened["id"])
            if story is None:
                story = opened
                stories.add(story)
        stories.touch(story, now)
        file_report(story, headline, rule)
        if self.changelog:
            records.append((story_key(rule_id, story["id"]), encode_story(story)))
        decision = judge(rule, story, stories.count_since(now - window), state.last_fired(
            throttle_key(rule_id, group_key(rule, story))), now, throttle)
        done = AlertStep(rule_id, decision.outcome, None, None, records, story["id"], decision.group)
        if decision.outcome != FIRE:
            return done
        if self.silences is not None:
            muted = self.silences.silencing(rule_id, story["title"], story["summary"],
                                            datetime.fromtimestamp(now, timezone.utc))
            if muted is not None:
                done.outcome, done.silenced_by = SILENCED, muted.id
                return done
        done.alert = build_alert(rule, story, decision, headline.id, now, self.ruleset.version)
        key = throttle_key(rule_id, decision.group)
        state.set_fired(rule_id, key, now)
        if self.changelog:
            records.append((key, repr(now).encode()))
        return done
