"""Silences: operator-declared quiet periods, by alert rule or by terms in the story.

They live in the compacted `<prefix>.silences` topic, so every worker reads them all and a new
worker starts with them; `watchfloor silence add|list|expire` writes and reads that topic.
A silence that expired more than a day ago is no longer loaded, and `silence add|expire`
tombstone such silences when they write, so the topic does not keep them for its year of retention.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import secrets
from datetime import datetime, timedelta, timezone

from rules.engine import CompiledRule, Cond, Engine, TermTable, compile_term
from core.contracts import Silence
from core.kafka import make_producer
from core.settings import ConfigError, Settings
from core.state import CompactedState
from core.topics import Topics, ensure_topics

log = logging.getLogger("watchfloor.silences")

SILENCE_KEPT_AFTER_EXPIRY = 24 * 3600.0  # seconds an expired silence stays listed (`list --all`) before removal


class SilenceBook:
    """The silences in force, with their terms compiled into one matcher."""

    def __init__(self) -> None:
        self.silences: dict[str, Silence] = {}
        self._engine: Engine | None = None

    def put(self, silence: Silence) -> None:
        self.silences[silence.id] = silence
        self._engine = None

    def active(self, now: datetime | None = None) -> list[Silence]:
        now = now or datetime.now(timezone.utc)
        return [s for s in self.silences.values() if s.expires > now]

    def silencing(self, rule_id: str, title: str, summary: str, now: datetime | None = None) -> Silence | None:
        """The silence that mutes this alert, if any."""
        active = self.active(now)
        for s in active:
            if s.rule == rule_id:
                return s
        with_terms = [s for s in active if s.match]
        if not with_terms:
            return None
        matched = {m.id for m in self._matcher().classify(title, summary)}
        return next((s for s in with_terms if s.id in matched), None)

    def _matcher(self) -> Engine:
        if self._engine is None:
            table = TermTable()
            rules = []
            for s in self.silences.values():
                if s.match:
                    cond = Cond(any=tuple(table.add(compile_term(t)) for t in s.match))
                    rules.append(CompiledRule(s.id, "info", ("title", "summary"), cond, frozenset(cond.positive_terms())))
            self._engine = Engine(rules, table)
        return self._engine


def silence_state(settings: Settings) -> CompactedState[Silence]:
    """The silences topic as a store; a silence is dropped (and tombstoned by writers) a day after it expired."""
    return CompactedState(settings, Topics(settings.topic_prefix).silences, encode=Silence.to_bytes, decode=Silence.from_bytes,
                          ttl=SILENCE_KEPT_AFTER_EXPIRY, stamp=lambda s: s.expires.timestamp())


async def follow_silences(settings: Settings, book: SilenceBook, stop: asyncio.Event | None = None) -> None:
    """Keeps `book` in step with the silences topic for as long as the worker runs. Unreadable
    records are logged and skipped: a bad record must not stop silences from working."""

    def changed(_key: str, silence: Silence | None) -> None:
        if silence is not None:  # removed ones expired a day ago: the book already ignores them
            book.put(silence)

    await silence_state(settings).follow(changed, stop)


async def add_silence(settings: Settings, rule: str | None, match: list[str], duration: timedelta, reason: str, by: str = "") -> Silence:
    """Writes a new silence; refuses, before writing anything, one that could never silence anything."""
    if not rule and not match:
        raise ConfigError("a silence needs --rule ID or --match TERMS")
    if rule:
        await asyncio.to_thread(check_alert_rule, settings, rule)  # loads the rules: off the console's event loop
    for term in match:
        compile_term(term)  # refuses terms that can never match, with a clear message
    now = datetime.now(timezone.utc)
    silence = Silence(id=secrets.token_hex(4), rule=rule, match=match, reason=reason, created=now, expires=now + duration, created_by=by)
    await _write(settings, None, silence)
    return silence


def check_alert_rule(settings: Settings, rule: str) -> None:
    """A silence for an alert rule that does not exist (a typo) would silence nothing while the
    operator believes the noise is handled: refuse it, naming the rules in force."""
    from rules.reload import live_rules

    location = settings.rules_dir or "the shipped packs"
    known = sorted(a.id for a in live_rules(settings).current.alerts)
    if rule not in known:
        if not known:
            raise ConfigError(f"unknown alert rule {rule!r}: the rules in {location} have no alert rules")
        hint = difflib.get_close_matches(rule, known, n=1)
        raise ConfigError(f"unknown alert rule {rule!r}; known: {', '.join(known)}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))


async def list_silences(settings: Settings, include_expired: bool = False) -> list[Silence]:
    """Active silences; with `include_expired` also those that expired less than a day ago."""
    state = silence_state(settings)
    await state.load()
    book = SilenceBook()
    for _, silence in state.items():
        book.put(silence)
    items = list(book.silences.values()) if include_expired else book.active()
    return sorted(items, key=lambda s: s.created)


async def expire_silence(settings: Settings, silence_id: str) -> Silence:
    state = silence_state(settings)
    await state.load()
    current = state.get(silence_id)
    if current is None:
        raise ConfigError(f"no silence with id {silence_id!r}")
    expired = current.model_copy(update={"expires": datetime.now(timezone.utc)})
    await _write(settings, state, expired)
    return expired


async def _write(settings: Settings, state: CompactedState[Silence] | None, silence: Silence) -> None:
    """Writes `silence` and, as writers do, tombstones silences that expired more than a day ago."""
    topics = Topics(settings.topic_prefix)
    await ensure_topics(settings, [s for s in topics.specs() if s.name == topics.silences])
    if state is None:
        state = silence_state(settings)
        await state.load()
    producer = make_producer(settings)
    try:  # stopped in `finally` even when start fails: no unclosed client
        await producer.start()
        await (await state.put(producer, silence.id, silence))
        removed = await state.expire(producer)
    finally:
        await producer.stop()
    if removed:
        log.info("removed %d silence(s) that expired more than a day ago", removed)
