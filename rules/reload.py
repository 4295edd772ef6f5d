"""Hot reload: a changed rule folder is checked first and swapped in only if valid.

A bad edit never stops classification: the last good set stays in force, and every problem is
logged with its file and line and counted in `watchfloor_rule_reloads_total{result="failed"}`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rules.loader import RuleSet, RulesError, load_rules, rule_files
from core.metrics import RULE_FILES_VALID, RULE_RELOADS, RULES_LOADED

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable

    from core.settings import Settings

log = logging.getLogger("watchfloor.rules")


class LiveRules:
    def __init__(self, location: Path, known_tags: set[str] | None = None, stage: str | None = None) -> None:
        self.location = location
        self.known_tags = known_tags
        # which stage's rules a log line is about: process and alert each reload their own copy
        self._who = {"stage": stage} if stage else {}
        self._stamp = self._fingerprint()
        self.current: RuleSet = load_rules(location, known_tags=known_tags)  # invalid rules at start are a startup error
        RULES_LOADED.set(len(self.current.rules))
        RULE_FILES_VALID.set(1)
        self.refused = False  # the files on disk were refused at the last look
        log.info("rules loaded", extra={"rules_version": self.current.version, "rules": len(self.current.rules),
                                        "location": str(location), **self._who})

    def _fingerprint(self) -> tuple:
        try:
            return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in rule_files(self.location))
        except OSError:
            return ()

    def maybe_reload(self) -> bool | None:
        """True: new rules in force; False: a changed set was refused; None: nothing changed."""
        stamp = self._fingerprint()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            new = load_rules(self.location, known_tags=self.known_tags)
        except RulesError as exc:
            RULE_RELOADS.labels("failed").inc()
            for problem in exc.problems:
                log.error("rule reload refused: %s", problem,
                          extra={"file": str(problem.file), "line": problem.line, **self._who})
            log.error("keeping the last good rules",
                      extra={"rules_version": self.current.version, "problems": len(exc.problems), **self._who})
            self._refused()
            return False
        except Exception:  # never let a loader bug take the processor down
            RULE_RELOADS.labels("failed").inc()
            log.exception("rule reload failed; keeping the last good rules", extra=self._who)
            self._refused()
            return False
        was_refused, self.refused = self.refused, False
        RULE_FILES_VALID.set(1)
        if new.version == self.current.version:
            if was_refused:  # the operator put the files back as they were: say it is mended
                log.info("rule files valid again; the rules in force are unchanged",
                         extra={"rules_version": new.version, **self._who})
            return None
        old = self.current
        self.current = new  # one reference swap: a headline is classified by the old or the new set, never a mix
        RULE_RELOADS.labels("ok").inc()
        RULES_LOADED.set(len(new.rules))
        log.info("rules reloaded", extra={"rules_version": new.version, "previous_version": old.version, "rules": len(new.rules),
                                          **self._who})
        return True

    def _refused(self) -> None:
        self.refused = True
        RULE_FILES_VALID.set(0)


def rules_location(settings: "Settings", override: Path | None = None) -> Path:
    """--rules, else WATCHFLOOR_RULES, else the shipped packs."""
    from rules.loader import DEFAULT_RULES

    return override or settings.rules_dir or DEFAULT_RULES


def live_rules(settings: "Settings", override: Path | None = None, stage: str | None = None) -> LiveRules:
    """The rules in force from start, with alert rules' Apprise tags checked against the Apprise
    config wherever one is set; invalid rules at start are a configuration error."""
    from core.settings import ConfigError
    from rules.apprise_tags import configured_tags
    from rules.loader import RulesError

    location = rules_location(settings, override)
    try:
        return LiveRules(location, known_tags=configured_tags(settings), stage=stage)
    except RulesError as exc:
        raise ConfigError(f"the rules in {location} are not valid:\n{exc}") from None


async def keep_reloading(live: LiveRules, stop: "asyncio.Event", every: float = 1.0,
                         on_reload: "Callable[[list[str]], Awaitable[bool]] | None" = None) -> None:
    """Hot reload for a stage's life: a valid edit is in force within `every` s; a bad one is
    logged and the rules in force stay. `on_reload(new category ids)` returns False to be called
    again next round (e.g. topics not created while Kafka is away)."""
    import asyncio

    pending: list[str] = []
    while not stop.is_set():
        before = set(live.current.category_ids)
        if await asyncio.to_thread(live.maybe_reload) or pending:
            pending = [c for c in live.current.category_ids if c not in before and c not in pending] + pending
            if on_reload is None or await on_reload(pending):
                pending = []
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
