"""Alert rules over events, without Kafka: which event a report is about, which rules want it
alerted, and when a message goes out. The live alert stage and `rules backtest` run the same
steps (`AlertEngine.step` per report, `AlertEngine.flush` when time passes).

- A report joins its event (alerting/grouping.py) whatever its feed, language or rule. A
  follow-up report (categories with `follow_up: true`) joins an open event or is dropped.
- A rule wants an event alerted once the event has `sources_at_least` sources; the event's
  first alert waits `group_wait` after its first report, so the first reports gather and
  polling order does not decide what fires. It names every rule that wants the event by then
  and goes to the union of their tags: one message per event per channel.
- A rule that wants the event later, with tags not yet alerted, sends it to those tags only.
- An event that grows (sources past 3 and 10, a new language, a higher severity, a changed
  casualty figure) sends an `Update:` to the tags alerted, at most `max_updates` times and
  `update_interval` apart; the reports of a growth gather for `group_wait` too.
- A `count_at_least` rule counts events in its window and sends a summary listing them.
Throttles (per event, category or rule, as `group_by` says) and silences apply per rule when a
message is due. Events and throttles are plain JSON; `AlertStep.records` are the changelog
entries a step changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from alerting.figures import casualties
from alerting.grouping import Signature, guess_language, signature
from alerting.meaning import Meanings, meanings as shared_meanings
from alerting.state import AlertState, encode_event, event_key, throttle_key
from rules.loader import RuleSet
from rules.model import AlertRule
from rules.routing import concerned_rules, follow_up_targets, is_at_venue, is_follow_up, rank  # noqa: F401  (re-exported: one routing for classify and alerting)
from core.contracts import Alert, Casualties, ClassifiedHeadline, Event, EventRef, Place, StoryReport

if TYPE_CHECKING:  # the book is filled from Kafka by alerting/silences.py; the engine only asks it
    from alerting.silences import SilenceBook

MAX_REPORTS = 50
MAX_SOURCES = 100
MAX_PLACES = 10
MAX_MATCHED_SHOWN = 8  # a watch officer needs a hint of why, not the whole rule
MAX_EVENTS_LISTED = 20
SOURCE_STEPS = (3, 10)  # an update when the sources reach these counts
GROUP_WAIT = 20.0
UPDATE_INTERVAL = 600.0
MAX_UPDATES = 3

FIRE, PENDING, THROTTLED, SILENCED, UNKNOWN = "fire", "pending", "throttled", "silenced", "unknown"
_KIND_ORDER = {"city": 0, "region": 1, "country": 2}


def telling_terms(terms: list[str]) -> list[str]:
    """The matched terms most telling first, each once: phrases before words, longer before
    shorter ("missile strike*" before "hit"), a word dropped beside a wildcard it falls under
    ("executions" beside "execution*"). Alphabetical order showed "apartment block*, attack,
    attack on, hit" for a missile strike and cut "missile" off."""
    unique = set(terms)
    stems = tuple(t[:-1] for t in unique if t.endswith("*"))
    unique = {t for t in unique if t.endswith("*") or not t.startswith(stems)}
    return sorted(unique, key=lambda t: (-len(t.split()), -len(t.rstrip("*")), t))


def report_time(headline: ClassifiedHeadline) -> float:
    """When it happened, as near as we know: the feed's publication time unless it is later than
    the classification (a feed clock ahead) or missing."""
    classified = headline.classified.timestamp()
    if headline.published is None:
        return classified
    return min(headline.published.timestamp(), classified)


def new_event(headline: ClassifiedHeadline, now: float) -> dict:
    """An event opened by this report; its id depends on the report only, so a replay opens the same."""
    return {
        "id": hashlib.sha256(f"event\x1f{headline.id}".encode()).hexdigest()[:16],
        "opened": now, "first_seen": report_time(headline), "last_seen": report_time(headline),
        "members": [], "reports": [], "report_count": 0, "sources": [], "languages": [], "categories": [],
        "severity": "info", "places": [], "casualties": {}, "matched": [], "rules": {}, "wants": [],
        "alerted": None, "pending": None, "alerts": [],
    }


def file_report(event: dict, headline: ClassifiedHeadline, language: str) -> None:
    """Adds the report and what it says (source, language, places, figures, severity) to its event."""
    if any(r["headline_id"] == headline.id for r in event["reports"]):
        return
    event["report_count"] += 1
    if len(event["reports"]) < MAX_REPORTS:
        event["reports"].append({"headline_id": headline.id, "source": headline.source, "title": headline.title,
                                 "link": headline.link, "language": language,
                                 "published": headline.published.isoformat() if headline.published else None,
                                 "fetched": headline.fetched.isoformat(), "at": report_time(headline)})
    if headline.source not in event["sources"] and len(event["sources"]) < MAX_SOURCES:
        event["sources"].append(headline.source)
    if language not in event["languages"]:
        event["languages"].append(language)
    for c in headline.categories:
        if c.id not in event["categories"]:
            event["categories"].append(c.id)
        if rank(c.severity) > rank(event["severity"]):
            event["severity"] = c.severity
        event["matched"] = telling_terms(event["matched"] + list(c.matched))[:MAX_MATCHED_SHOWN * 4]
    counts = event.setdefault("place_counts", {})
    for p in headline.places:
        counts[str(p.id)] = counts.get(str(p.id), 0) + 1
    known = {p["id"] for p in event["places"]}
    places = event["places"] + [p.model_dump() for p in headline.places if p.id not in known]
    event["places"] = sorted(places, key=lambda p: _place_rank(p, counts, event["report_count"]))[:MAX_PLACES]
    figures = casualties(f"{headline.title} {headline.summary}")
    if figures and report_time(headline) >= _latest_figures_at(event):
        event["casualties"] = {**event["casualties"], **figures, "at": report_time(headline)}


def merge_events(state: AlertState, event: dict, other: dict) -> None:
    """Files everything `other` holds under `event` and removes `other`: its reports, sources,
    languages, categories, places, figures, rules and alerts; its members join the index.
    A first alert either owed is scheduled again by the engine."""
    began = event["first_seen"]
    for key in ("opened", "first_seen"):
        event[key] = min(event[key], other[key])
    event["last_seen"] = max(event["last_seen"], other["last_seen"])
    event["touched"] = max(event.get("touched", event["opened"]), other.get("touched", other["opened"]))
    state.events.absorb(event, other)  # after the times: it files when the merged event closes
    known = {r["headline_id"] for r in event["reports"]}
    extra = [r for r in other["reports"] if r["headline_id"] not in known]
    event["report_count"] += other["report_count"] - (len(other["reports"]) - len(extra))
    event["reports"] = sorted(event["reports"] + extra, key=lambda r: (r["at"], r["headline_id"]))[:MAX_REPORTS]
    for key, cap in (("sources", MAX_SOURCES), ("languages", None), ("categories", None), ("alerts", None)):
        event[key] = list(dict.fromkeys(event[key] + other[key]))[:cap]
    if rank(other["severity"]) > rank(event["severity"]):
        event["severity"] = other["severity"]
    event["matched"] = telling_terms(event["matched"] + other["matched"])[:MAX_MATCHED_SHOWN * 4]
    counts = event.setdefault("place_counts", {})
    for pid, n in other.get("place_counts", {}).items():
        counts[pid] = counts.get(pid, 0) + n
    known_places = {p["id"] for p in event["places"]}
    places = event["places"] + [p for p in other["places"] if p["id"] not in known_places]
    event["places"] = sorted(places, key=lambda p: _place_rank(p, counts, event["report_count"]))[:MAX_PLACES]
    older, newer = sorted((event["casualties"], other["casualties"]), key=lambda c: float(c.get("at", 0.0)))
    event["casualties"] = {**older, **newer}  # figure by figure, the later report's winning, as file_report does
    for rule_id, at in other["rules"].items():
        event["rules"][rule_id] = min(at, event["rules"].get(rule_id, at))
    state.recount(event, began)
    event["wants"] = list(dict.fromkeys(event["wants"] + other["wants"]))
    event["alerted"] = event["alerted"] or other["alerted"]
    event["merged"] = list(dict.fromkeys(event.get("merged", []) + [other["id"]] + other.get("merged", [])))
    state.events.set_pending(event, None)  # the engine schedules the merged event's next message


def _place_rank(place: dict, counts: dict[str, int], reports: int) -> tuple[int, int, int]:
    """Places a third of the reports name first, most specific first; then the rest (a wave
    headline's other cities): the alert's "Where" names what the event is about."""
    n = counts.get(str(place["id"]), 0)
    return (0 if n * 3 >= reports else 1, _KIND_ORDER.get(place["kind"], 3), -n)


def _latest_figures_at(event: dict) -> float:
    return float(event["casualties"].get("at", 0.0))


def facts(event: dict) -> dict:
    """What an update compares: the counts, languages, severity and figures of the last message."""
    figures = {k: v for k, v in event["casualties"].items() if k != "at"}
    return {"sources": len(event["sources"]), "languages": list(event["languages"]),
            "severity": event["severity"], "casualties": figures}


def changes(before: dict, now: dict) -> list[str]:
    """What grew since the last message, one line each ([] = nothing worth an update)."""
    out = []
    step_before = sum(now_n <= before["sources"] for now_n in SOURCE_STEPS)
    step_now = sum(now_n <= now["sources"] for now_n in SOURCE_STEPS)
    if step_now > step_before:
        out.append(f"sources: {before['sources']} → {now['sources']}")
    added = [lang for lang in now["languages"] if lang not in before["languages"]]
    if added:
        out.append("now also reported in " + ", ".join(added))
    if rank(now["severity"]) > rank(before["severity"]):
        out.append(f"severity: {before['severity']} → {now['severity']}")
    for kind in ("killed", "injured"):
        old, new = before["casualties"].get(kind), now["casualties"].get(kind)
        if new is not None and new != old:
            out.append(f"{kind}: {old} → {new}" if old is not None else f"{kind}: {new}")
    return out


def headline_report(event: dict) -> dict:
    """The report an alert is titled by: the earliest English one, else the earliest."""
    reports = sorted(event["reports"], key=lambda r: (r["at"], r["headline_id"]))
    english = [r for r in reports if r["language"] == "en"]
    return (english or reports)[0]


@dataclass
class AlertStep:
    """What a step or flush decided, and the changelog entries it changed."""

    event_id: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)  # rule id -> fire | pending | throttled | silenced | unknown
    alerts: list[Alert] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # the public state of events that changed
    records: list[tuple[str, bytes | None]] = field(default_factory=list)  # in order; None = tombstone
    merged: list[str] = field(default_factory=list)  # events merged into another: gone from `<prefix>.events`
    silenced_by: dict[str, str] = field(default_factory=dict)

    def extend(self, other: "AlertStep") -> None:
        self.outcomes.update(other.outcomes)
        self.alerts += other.alerts
        self.events += other.events
        self.records += other.records
        self.merged += other.merged
        self.silenced_by.update(other.silenced_by)


def find_events(state: AlertState, sig: Signature, meanings: Meanings | None) -> list[dict]:
    """The open events a report is the same happening as, best first (`EventBook.matches`); when
    the words and places find none, the one it means in another language, if any
    (`EventBook.alike_in_meaning`). One lookup for the alert stage, `rules eval` and the backtest."""
    found = state.events.matches(sig)
    if not found and meanings is not None:
        event = state.events.alike_in_meaning(sig, meanings)
        if event is not None:
            found = [event]
    return found


class AlertEngine:
    """The alert rules of one rule set over an `AlertState`: the same steps live and in the backtest."""

    def __init__(self, ruleset: RuleSet, silences: SilenceBook | None = None, *, group_wait: float = GROUP_WAIT,
                 update_interval: float = UPDATE_INTERVAL, max_updates: int = MAX_UPDATES,
                 changelog: bool = True, meanings: Meanings | None = shared_meanings()) -> None:
        """`changelog=False` is for a replay that keeps its state in memory only (the backtest):
        steps decide alike but return no records, sparing the encoding. `meanings`: how reports
        in two languages are compared by meaning when the word and place rules find no event for
        one (alerting/meaning.py); None compares by words and places only."""
        self.ruleset = ruleset
        self.meanings = meanings
        self.silences = silences
        self.group_wait = group_wait
        self.update_interval = update_interval
        self.max_updates = max_updates
        self.changelog = changelog
        self._rules = {r.id: r for r in ruleset.alerts}
        self._order = {r.id: i for i, r in enumerate(ruleset.alerts)}

    def concerned(self, headline: ClassifiedHeadline) -> list[str]:
        """Alert rule ids this headline concerns (the classify stage hands it on with them)."""
        return [r.id for r in concerned_rules(self.ruleset, headline)]

    # --- a report ------------------------------------------------------------------------------

    def step(self, state: AlertState, headline: ClassifiedHeadline, rule_ids: list[str], now: float) -> AlertStep:
        """Files the report in its event and decides for each rule it concerns. `now` is the
        report's classification time, so a replay decides as the first run did."""
        out = self.flush(state, now)
        self._expire(state, now, out)
        language = guess_language(headline.title, headline.language)
        sig = signature(report_time(headline), [c.id for c in headline.categories],
                        [p.model_dump() for p in headline.places], headline.title, language,
                        follow_up=is_follow_up(self.ruleset, headline), venue=is_at_venue(self.ruleset, headline),
                        follows=follow_up_targets(self.ruleset, headline), source=headline.source)
        found = find_events(state, sig, self.meanings)
        if not found and sig.follow_up:
            return out  # a follow-up of no open event: nothing to update, and no event of its own
        event = found[0] if found else None
        if len(found) > 1:
            event = self._merge(state, event, state.events.bridged(sig, found), out)
        if event is None:
            event = new_event(headline, now)
            existing = state.events.get(event["id"])  # the same report again: it keeps its event
            if existing is not None:
                event = existing
            else:
                state.events.add(event)
        if not any(r["headline_id"] == headline.id for r in event["reports"]):
            began = event["first_seen"]
            state.events.join(event, sig, now)  # the same report again takes no member slot
            if event["first_seen"] != began and event["rules"]:
                state.recount(event, began)  # an earlier report: counting rules count it from then, as a restart would
        file_report(event, headline, language)
        out.event_id = event["id"]
        for rule_id in rule_ids:
            rule = self._rules.get(rule_id)
            if rule is None:
                out.outcomes[rule_id] = UNKNOWN  # removed by a reload since
                continue
            first_time = rule_id not in event["rules"]
            event["rules"].setdefault(rule_id, now)
            if rule.when.count_at_least > 1:
                if first_time:
                    state.count_event(rule_id, event["id"], event["first_seen"])
                self._summary(state, rule, event, now, sig.at, out)
            elif len(event["sources"]) >= rule.when.sources_at_least:
                if rule_id not in event["wants"]:
                    event["wants"].append(rule_id)
                out.outcomes[rule_id] = PENDING
            else:
                out.outcomes[rule_id] = PENDING
        self._schedule(state, event, now)
        due = self.flush(state, now)  # due at once (a rule with new tags, no group wait): sent now
        if not any(e.id == event["id"] for e in due.events):
            self._changed(event, now, out)
        out.extend(due)
        return out

    def _merge(self, state: AlertState, event: dict, others: list[dict], out: AlertStep) -> dict:
        """The report showed several open events to be one happening (`EventBook.bridged`: their
        reports came out of order, or before the report that links them). Merges each into the
        best match, or into the one alerted if one is (its officers are then told by an update);
        two events both alerted stay apart. Returns the event the report joins."""
        for other in others:
            if event["alerted"] is not None and other["alerted"] is not None:
                continue
            keep, gone = (other, event) if event["alerted"] is None and other["alerted"] is not None else (event, other)
            merge_events(state, keep, gone)
            if self.changelog:
                out.records.append((event_key(gone["id"]), None))
                out.merged.append(gone["id"])
            event = keep
        return event

    def _schedule(self, state: AlertState, event: dict, now: float) -> None:
        """Sets when the event's next message is due, if it owes one."""
        alerted = event["alerted"]
        if alerted is None:
            if event["wants"] and not event["pending"]:
                state.events.set_pending(event, {"due": max(event["opened"] + self.group_wait, now)})
            return
        new_tags = [t for r in event["wants"] if r in self._rules for t in self._rules[r].notify]
        if any(t not in alerted["tags"] for t in new_tags):
            due = now
        elif changes(alerted["facts"], facts(event)) and alerted["updates"] < self.max_updates:
            due = max(now + self.group_wait, alerted["last"] + self.update_interval)  # a burst gathers too
        else:
            return
        pending = event["pending"]
        if not pending or pending["due"] > due:
            state.events.set_pending(event, {"due": due})

    # --- time passing --------------------------------------------------------------------------

    def flush(self, state: AlertState, now: float) -> AlertStep:
        """The messages due at `now`: first alerts after their group wait, updates after their interval."""
        out = AlertStep()
        for event in state.events.due(now):
            state.events.set_pending(event, None)
            self._emit(state, event, now, out)
            self._changed(event, now, out)
        return out

    def _emit(self, state: AlertState, event: dict, now: float, out: AlertStep) -> None:
        alerted = event["alerted"]
        ready: list[AlertRule] = []
        for rule_id in sorted(event["wants"], key=lambda r: self._order.get(r, 1 << 30)):
            rule = self._rules.get(rule_id)
            if rule is None:
                continue
            if alerted is not None and rule_id in alerted["rules"]:
                continue
            group = self._group(rule, event)
            last = state.last_fired(throttle_key(rule_id, group))
            if last is not None and now - last < rule.throttle_s and group != event["id"]:
                out.outcomes[rule_id] = THROTTLED
                continue
            muted = self._silenced(rule_id, event, now)
            if muted is not None:
                out.outcomes[rule_id], out.silenced_by[rule_id] = SILENCED, muted
                continue
            ready.append(rule)
        new_tags = [t for r in ready for t in r.notify if alerted is None or t not in alerted["tags"]]
        before = list(alerted["tags"]) if alerted is not None else []  # tags that may owe an update
        if ready and new_tags:
            alert = self._alert(event, ready, list(dict.fromkeys(new_tags)), now, kind="alert")
            self._fired(state, event, ready, now, out)
            out.alerts.append(alert)
            if alerted is None:
                alerted = event["alerted"] = {"first": alert.id, "rules": [], "tags": [], "updates": 0,
                                              "last": now, "facts": facts(event)}
            alerted["rules"] += [r.id for r in ready]
            alerted["tags"] += [t for t in alert.notify if t not in alerted["tags"]]
            event["alerts"].append(alert.id)
            if not before:
                return  # the event's first alert
            told = alerted.setdefault("told", {})  # tags alerted later saw the event as it is now
            told.update({t: facts(event) for t in alert.notify})
        if alerted is None or not before:
            return
        what = changes(alerted["facts"], facts(event))
        if not what or alerted["updates"] >= self.max_updates:
            return
        if now - alerted["last"] < self.update_interval:
            state.events.set_pending(event, {"due": alerted["last"] + self.update_interval})
            return
        rules = []
        for rule_id in alerted["rules"]:
            muted = self._silenced(rule_id, event, now) if rule_id in self._rules else None
            if muted is not None:
                out.outcomes[rule_id], out.silenced_by[rule_id] = SILENCED, muted
            elif rule_id in self._rules:
                rules.append(self._rules[rule_id])
        if not rules:  # silenced (or removed): this change is not told, now or when the silence ends
            alerted["facts"] = facts(event)
            return
        tags = [t for t in before if any(t in r.notify for r in rules)] or before
        told = alerted.get("told", {})
        tags = [t for t in tags if changes(told.get(t, alerted["facts"]), facts(event))]  # not what it was alerted with
        if not tags:
            alerted["facts"], alerted["told"] = facts(event), {}
            return
        alerted["updates"] += 1
        update = self._alert(event, rules, tags, now, kind="update", changes=what,
                             update_of=alerted["first"], n=alerted["updates"])
        alerted["facts"], alerted["last"], alerted["told"] = facts(event), now, {}
        event["alerts"].append(update.id)
        out.alerts.append(update)
        for rule in rules:
            out.outcomes[rule.id] = FIRE

    def _fired(self, state: AlertState, event: dict, rules: list[AlertRule], now: float, out: AlertStep) -> None:
        for rule in rules:
            key = throttle_key(rule.id, self._group(rule, event))
            state.set_fired(rule.id, key, now)
            out.outcomes[rule.id] = FIRE
            if self.changelog:
                out.records.append((key, repr(now).encode()))

    def _silenced(self, rule_id: str, event: dict, now: float) -> str | None:
        if self.silences is None:
            return None
        top = headline_report(event)
        muted = self.silences.silencing(rule_id, top["title"], " ".join(r["title"] for r in event["reports"][:10]),
                                        datetime.fromtimestamp(now, timezone.utc))
        return muted.id if muted is not None else None

    @staticmethod
    def _group(rule: AlertRule, event: dict) -> str:
        """What the throttle counts per: the event, its (first) category, or the whole rule."""
        if rule.group_by == "story":
            return event["id"]
        if rule.group_by == "category":
            cats = [c for c in event["categories"] if c in rule.when.categories]
            return cats[0] if cats else rule.id
        return rule.id

    # --- messages -------------------------------------------------------------------------------

    def _alert(self, event: dict, rules: list[AlertRule], tags: list[str], now: float, *, kind: str,
               changes: list[str] | None = None, update_of: str | None = None, n: int = 0) -> Alert:
        """Deterministic id (event, kind, rules or update number): reprocessing after a crash
        yields the same message, which the notifiers' delivery log then sends only once."""
        primary = max(rules, key=lambda r: (rank(r.severity or event["severity"]), -self._order.get(r.id, 0)))
        top = headline_report(event)
        ident = f"{event['id']}\x1f{kind}\x1f{n}\x1f{','.join(r.id for r in rules)}\x1f{','.join(tags)}"
        title = top["title"] if kind == "alert" else f"Update: {top['title']}"
        severity = max((r.severity or event["severity"] for r in rules), key=rank)
        return Alert(
            id=hashlib.sha256(ident.encode()).hexdigest()[:32],
            rule_id=primary.id, severity=severity, group_by=primary.group_by, group=self._group(primary, event),
            story_id=event["id"], title=title, summary="", categories=list(event["categories"]),
            places=[Place(**p) for p in event["places"]], matched=list(event["matched"])[:MAX_MATCHED_SHOWN],
            reports=[StoryReport(**_report(r)) for r in sorted(event["reports"], key=lambda r: r["at"])[:20]],
            source_count=len(event["sources"]), story_count=1,
            first_seen=datetime.fromtimestamp(event["opened"], timezone.utc),
            fired=datetime.fromtimestamp(now, timezone.utc), notify=tags, template=primary.template,
            rules_version=self.ruleset.version, kind=kind, event_id=event["id"],
            rules=[primary.id] + [r.id for r in rules if r is not primary], languages=list(event["languages"]),
            changes=changes or [], update_of=update_of, casualties=_casualties(event),
        )

    def _summary(self, state: AlertState, rule: AlertRule, event: dict, now: float, at: float,
                  out: AlertStep) -> None:
        """A count_at_least rule: enough events that happened within its window of this report
        (by their first report's publication time, so a first poll of old items or a backlog is
        no wave), not throttled or silenced, sends now."""
        counted = state.counted_events(rule.id, at - rule.window_s, at)
        if len(counted) < rule.when.count_at_least:
            out.outcomes[rule.id] = PENDING
            return
        group = self._group(rule, event)
        key = throttle_key(rule.id, group)
        last = state.last_fired(key)
        if last is not None and now - last < rule.throttle_s:
            out.outcomes[rule.id] = THROTTLED
            return
        muted = self._silenced(rule.id, event, now)
        if muted is not None:
            out.outcomes[rule.id], out.silenced_by[rule.id] = SILENCED, muted
            return
        events = [e for e in (state.events.get(eid) for eid in reversed(counted)) if e is not None]
        refs = [_ref(e) for e in events[:MAX_EVENTS_LISTED]]
        cats = ", ".join(rule.when.categories)
        title = f"Summary: {len(counted)} {cats} events in {rule.window}"
        ident = f"summary\x1f{rule.id}\x1f{group}\x1f{event['id']}\x1f{now!r}"
        alert = Alert(
            id=hashlib.sha256(ident.encode()).hexdigest()[:32], rule_id=rule.id,
            severity=rule.severity or max((e["severity"] for e in events), key=rank, default="medium"),
            group_by=rule.group_by, group=group, story_id=event["id"], title=title, summary="",
            categories=sorted({c for e in events for c in e["categories"] if c in rule.when.categories}),
            places=[], matched=[], reports=[StoryReport(**_report(headline_report(e))) for e in events[:MAX_EVENTS_LISTED]],
            source_count=len({s for e in events for s in e["sources"]}), story_count=len(counted),
            first_seen=datetime.fromtimestamp(min((e["opened"] for e in events), default=now), timezone.utc),
            fired=datetime.fromtimestamp(now, timezone.utc), notify=list(rule.notify), template=rule.template,
            rules_version=self.ruleset.version, kind="summary", rules=[rule.id], events=refs,
        )
        state.set_fired(rule.id, key, now)
        if self.changelog:
            out.records.append((key, repr(now).encode()))
        out.outcomes[rule.id] = FIRE
        out.alerts.append(alert)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _expire(self, state: AlertState, now: float, out: AlertStep) -> None:
        for eid in state.events.expire(now):
            if self.changelog:
                out.records.append((event_key(eid), None))
        for rule in self.ruleset.alerts:
            horizon = max(rule.window_s, rule.throttle_s)
            for key in state.expire_throttles(rule.id, now - rule.throttle_s - horizon):
                if self.changelog:
                    out.records.append((key, None))

    def _changed(self, event: dict, now: float, out: AlertStep) -> None:
        if self.changelog:
            out.records.append((event_key(event["id"]), encode_event(event)))
            out.events.append(public_event(event, now))


def public_event(event: dict, now: float) -> Event:
    """The event as downstream consumers read it on `<prefix>.events`."""
    top = headline_report(event)
    return Event(
        id=event["id"], title=top["title"], first_seen=datetime.fromtimestamp(event["first_seen"], timezone.utc),
        last_seen=datetime.fromtimestamp(event["last_seen"], timezone.utc), categories=list(event["categories"]),
        severity=event["severity"], places=[Place(**p) for p in event["places"]],
        reports=[StoryReport(**_report(r)) for r in sorted(event["reports"], key=lambda r: r["at"])],
        report_count=event["report_count"], sources=list(event["sources"]), source_count=len(event["sources"]),
        languages=list(event["languages"]), casualties=_casualties(event), rules=sorted(event["rules"]),
        alerts=list(event["alerts"]), updated=datetime.fromtimestamp(now, timezone.utc),
        merged=list(event.get("merged", [])),
    )


def _report(r: dict) -> dict:
    return {k: r[k] for k in ("headline_id", "source", "title", "link", "published", "fetched", "language")}


def _casualties(event: dict) -> Casualties | None:
    figures = {k: v for k, v in event["casualties"].items() if k in ("killed", "injured")}
    return Casualties(**figures) if figures else None


def _ref(event: dict) -> EventRef:
    top = headline_report(event)
    place = event["places"][0]["name"] if event["places"] else None
    return EventRef(id=event["id"], title=top["title"], place=place, link=top["link"],
                    source_count=len(event["sources"]), first_seen=datetime.fromtimestamp(event["first_seen"], timezone.utc))
