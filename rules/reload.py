"""Hot reload: a changed rule folder is checked first and swapped in only if valid.

A bad edit never stops classification: the last good set stays in force, and every problem is
logged with its file and line and counted in `watchfloor_rule_reloads_total{result="failed"}`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rules.loader import RuleSet, RulesError, load_rules, rule_files
from core.metrics import RULE_RELOADS, RULES_LOADED

log = logging.getLogger("watchfloor.rules")


class LiveRules:
    def __init__(self, location: Path, known_tags: set[str] | None = None) -> None:
        self.location = location
        self.known_tags = known_tags
        self._stamp = self._fingerprint()
        self.current: RuleSet = load_rules(location, known_tags=known_tags)  # invalid rules at start are a startup error
        RULES_LOADED.set(len(self.current.rules))
        log.info("rules loaded", extra={"rules_version": self.current.version, "rules": len(self.current.rules),
                                        "location": str(location)})

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
                log.error("rule reload refused: %s", problem, extra={"file": str(problem.file), "line": problem.line})
            log.error("keeping the last good rules", extra={"rules_version": self.current.version, "problems": len(exc.problems)})
            return False
        except Exception:  # never let a loader bug take the processor down
            RULE_RELOADS.labels("failed").inc()
            log.exception("rule reload failed; keeping the last good rules")
            return False
        if new.version == self.current.version:
            return None
        old = self.current
        self.current = new  # one reference swap: a headline is classified by the old or the new set, never a mix
        RULE_RELOADS.labels("ok").inc()
        RULES_LOADED.set(len(new.rules))
        log.info("rules reloaded", extra={"rules_version": new.version, "previous_version": old.version, "rules": len(new.rules)})
        return True
