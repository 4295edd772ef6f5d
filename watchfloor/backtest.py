"""Backtest: what a rule change would have done to past headlines, before it goes live.

The history is classified twice, by the rules in force and by the candidate rules, with the
same code the processor runs; the alert rules are replayed in time order over each result by
the alert stage's own engine (alerting/engine.py: `AlertEngine.step` and `flush` on an
in-memory `AlertState`), event grouping and group wait included. An alert rule's change is
counted in events, not headlines: the events it would newly alert, or no longer alert (an
event of one replay is the same as one of the other when they share a report). Silences are
not replayed: they are not part of a rule change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from alerting.engine import AlertEngine, AlertStep
from alerting.meaning import Meanings, meanings as shared_meanings
from alerting.state import AlertState
from rules.engine import Engine, Match
from rules.loader import RuleSet
from rules.text import words
from core.contracts import CategoryMatch, ClassifiedHeadline
from rules.places import tag
from rules.routing import alert_work

KEEP = 1000  # gained/lost headlines and alerts kept per category or rule; counts are exact


@dataclass
class Change:
    """Before/after counts of one category or alert rule, with the headlines that moved."""

    id: str
    before: int = 0
    after: int = 0
    gained: list[dict] = field(default_factory=list)
    lost: list[dict] = field(default_factory=list)
    gained_count: int = 0
    lost_count: int = 0

    def gain(self, item: dict) -> None:
        self.gained_count += 1
        if len(self.gained) < KEEP:
            self.gained.append(item)

    def lose(self, item: dict) -> None:
        self.lost_count += 1
        if len(self.lost) < KEEP:
            self.lost.append(item)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "before": self.before, "after": self.after,
                "gained": self.gained_count, "lost": self.lost_count,
                "gained_headlines": self.gained, "lost_headlines": self.lost,
                "truncated": self.gained_count > len(self.gained) or self.lost_count > len(self.lost)}


@dataclass
class Report:
    current_version: str
    candidate_version: str
    headlines: int = 0
    duplicates: int = 0
    unreadable: int = 0
    first: datetime | None = None
    last: datetime | None = None
    categories: dict[str, Change] = field(default_factory=dict)
    alerts: dict[str, Change] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": {"current": self.current_version, "candidate": self.candidate_version},
            "headlines": self.headlines, "duplicates": self.duplicates, "unreadable": self.unreadable,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "categories": [c.as_dict() for c in sorted(self.categories.values(), key=lambda c: c.id)],
            "alerts": [a.as_dict() for a in sorted(self.alerts.values(), key=lambda a: a.id)],
        }


class Backtest:
    """Feed it raw-topic records in any order per partition; call `finish()` for the report."""

    def __init__(self, current: RuleSet, candidate: RuleSet) -> None:
        self.current, self.candidate = current, candidate
        self.report = Report(current.version, candidate.version)
        for cid in dict.fromkeys([*current.category_ids, *candidate.category_ids]):
            self.report.categories[cid] = Change(cid)
        for rule in [*current.alerts, *candidate.alerts]:
            self.report.alerts.setdefault(rule.id, Change(rule.id))
        # Rules defined alike in both sets match alike: the candidate only classifies with the
        # rules that changed, and takes the rest from the rules in force.
        now_rules = {r.id: r for r in current.rules}
        self._kept = {r.id for r in candidate.rules if now_rules.get(r.id) == r}
        changed = [r for r in candidate.engine.rules if r.id not in self._kept]
        self._changed = Engine(changed, candidate.engine.table, use_c=candidate.engine.use_c)
        self._order = {r.id: i for i, r in enumerate(candidate.engine.rules)}
        self._seen: set[str] = set()
        self._alerting_cats = ({c for r in current.alerts for c in r.when.categories},
                               {c for r in candidate.alerts for c in r.when.categories})
        self._candidates: list[tuple[int, dict, list[Match], list[Match]]] = []

    def add(self, records: Iterable[tuple[int, bytes | None]]) -> None:
        report, seen = self.report, self._seen
        classify_now, classify_changed = self.current.engine.classify_words, self._changed.classify_words
        kept, order = self._kept, self._order
        cats = report.categories
        alert_now, alert_new = self._alerting_cats
        for timestamp, value in records:
            try:
                item = json.loads(value)  # type: ignore[arg-type]
                hid, title, summary = item["id"], item["title"], item.get("summary") or ""
            except (TypeError, ValueError, KeyError):
                report.unreadable += 1
                continue
            if hid in seen:
                report.duplicates += 1
                continue
            seen.add(hid)
            report.headlines += 1
            title_words, summary_words = words(title), words(summary) if summary else []
            before = classify_now(title_words, summary_words)
            after = [m for m in before if m.id in kept] + classify_changed(title_words, summary_words)
            if len(after) > 1:
                after.sort(key=lambda m: order[m.id])
            if before or after:
                ids_before = {m.id for m in before}
                ids_after = {m.id for m in after}
                for cid in ids_before:
                    cats[cid].before += 1
                for cid in ids_after:
                    cats[cid].after += 1
                if ids_before != ids_after:
                    brief = {"id": hid, "title": title, "source": item.get("source")}
                    for cid in ids_after - ids_before:
                        cats[cid].gain(brief)
                    for cid in ids_before - ids_after:
                        cats[cid].lose(brief)
                if (ids_before & alert_now) or (ids_after & alert_new):
                    self._candidates.append((timestamp, item, before, after))

    def finish(self, group_wait: float = 20.0, meanings: Meanings | None = shared_meanings()) -> Report:
        self._candidates.sort(key=lambda c: c[0])
        fired_before = self._replay(self.current, [(t, i, b) for t, i, b, _ in self._candidates], group_wait, meanings)
        fired_after = self._replay(self.candidate, [(t, i, a) for t, i, _, a in self._candidates], group_wait, meanings)
        for rule_id, change in self.report.alerts.items():
            before, after = fired_before.get(rule_id, {}), fired_after.get(rule_id, {})
            change.before, change.after = len(before), len(after)
            for item in _unmatched(after, before):
                change.gain(item)
            for item in _unmatched(before, after):
                change.lose(item)
        stamps = [c[0] for c in self._candidates]
        if stamps:
            self.report.first = datetime.fromtimestamp(stamps[0] / 1000, timezone.utc)
            self.report.last = datetime.fromtimestamp(stamps[-1] / 1000, timezone.utc)
        return self.report

    @staticmethod
    def _replay(ruleset: RuleSet, items: list[tuple[int, dict, list[Match]]], group_wait: float,
                meanings: Meanings | None) -> dict[str, dict[str, dict]]:
        """The events each rule alerts over the history (rule -> event id -> what it alerted)."""
        watched = {c for r in ruleset.alerts for c in r.when.categories} | ruleset.follow_up_categories
        engine, state = AlertEngine(ruleset, changelog=False, group_wait=group_wait, meanings=meanings), AlertState()
        fired: dict[str, dict[str, dict]] = {}

        def collect(step: AlertStep) -> None:
            for alert in step.alerts:
                if alert.kind == "update":
                    continue
                key = alert.event_id or alert.id
                for rule_id in alert.rules:
                    fired.setdefault(rule_id, {}).setdefault(key, {
                        "id": key, "title": alert.title, "fired": alert.fired.isoformat(), "sources": alert.source_count,
                        "reports": [r.headline_id for r in alert.reports]})

        now = 0.0
        for timestamp, item, matches in items:
            if not any(m.id in watched for m in matches):
                continue
            now = timestamp / 1000
            if "places" not in item:  # tagged once, for the headlines an alert rule replays (both rule sets)
                item["places"] = [p.as_dict() for p in tag(item.get("title", ""), item.get("summary", ""), item.get("language"))]
            headline = ClassifiedHeadline.model_validate({
                **item, "schema": "headline.classified/2", "rules_version": ruleset.version,
                "categories": [CategoryMatch(id=m.id, severity=m.severity, matched=list(m.matched)) for m in matches],
                "classified": datetime.fromtimestamp(now, timezone.utc),
            })
            work = alert_work(ruleset, headline)  # as the classify stage hands them on
            if work is not None:
                collect(engine.step(state, headline, [r.id for r in work], now))
        collect(engine.flush(state, now + group_wait + 1))
        for per_rule in fired.values():  # an event's reports at the end of the history, not at its alert
            for key, item in per_rule.items():
                event = state.events.get(key)
                if event is not None:
                    item["reports"] = [r["headline_id"] for r in event["reports"]]
                    item["sources"] = len(event["sources"])
        return fired


def _unmatched(these: dict[str, dict], others: dict[str, dict]) -> list[dict]:
    """The events of `these` that share no report with any of `others`."""
    known = {hid for item in others.values() for hid in item["reports"]}
    return [item for item in these.values() if known.isdisjoint(item["reports"])]


def format_report(report: Report, examples: int = 3) -> str:
    """The summary table an operator reads before deciding to ship a rule change."""
    lines = [f"{report.headlines:,} headlines ({report.duplicates:,} duplicates skipped"
             + (f", {report.unreadable:,} unreadable" if report.unreadable else "") + ")",
             f"rules in force {report.current_version}  ->  candidate {report.candidate_version}", ""]
    width = max([len("alert rule (events)")] + [len(c) for c in report.categories] + [len(a) for a in report.alerts])
    lines.append(f"{'category':<{width}}  {'before':>8}  {'after':>8}  {'gained':>7}  {'lost':>7}")
    for c in sorted(report.categories.values(), key=lambda c: c.id):
        lines.append(f"{c.id:<{width}}  {c.before:>8,}  {c.after:>8,}  {'+' + format(c.gained_count, ','):>7}  "
                     f"{'-' + format(c.lost_count, ','):>7}")
    if report.alerts:
        lines += ["", f"{'alert rule (events)':<{width}}  {'before':>8}  {'after':>8}  {'new':>7}  {'gone':>7}"]
        for a in sorted(report.alerts.values(), key=lambda a: a.id):
            lines.append(f"{a.id:<{width}}  {a.before:>8,}  {a.after:>8,}  {'+' + format(a.gained_count, ','):>7}  "
                         f"{'-' + format(a.lost_count, ','):>7}")
    for kind, changes in (("category", report.categories), ("alert", report.alerts)):
        for c in sorted(changes.values(), key=lambda c: c.id):
            for sign, items, count in (("+", c.gained, c.gained_count), ("-", c.lost, c.lost_count)):
                if not count:
                    continue
                what = ("gained" if sign == "+" else "lost") if kind == "category" else \
                    ("events newly alerted" if sign == "+" else "events no longer alerted")
                lines.append(f"\n{sign} {kind} {c.id}: {count:,} {what}" + (", e.g." if count > examples else ""))
                for item in items[:examples]:
                    lines.append(f"    {item['title'][:140]}")
    if all(not c.gained_count and not c.lost_count for c in [*report.categories.values(), *report.alerts.values()]):
        lines.append("\nno difference on this history")
    return "\n".join(lines)
