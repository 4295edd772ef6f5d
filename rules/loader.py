"""The one loader of rule folders: used by `rules check`, the processor's hot reload,
`rules eval`, `classify` and the benchmarks alike. Every problem comes out as FILE:LINE."""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.engine import CompiledRule, Cond, Engine, TermError, TermTable, compile_term
from rules.places.filter import PlaceFilter, resolve
from rules.places.gazetteer import gazetteer
from rules.model import KNOWN_KEYS, AlertRule, CategoryRule, Condition

TOP_LEVEL_KEYS = ["rules", "alerts"]

DEFAULT_RULES = Path(__file__).parent / "packs"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10,000 rules load in a second


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class ParsedFile:
    path: Path
    rules: list[tuple[int, CategoryRule]]
    alerts: list[tuple[int, AlertRule]]
    lines: dict[tuple, int]
    refused_ids: frozenset[str] = frozenset()  # ids of its category rules refused for their own problems


@dataclass
class RuleSet:
    engine: Engine
    rules: list[CategoryRule]
    version: str
    files: list[Path]
    lines: dict[str, tuple[Path, int]] = field(default_factory=dict)
    alerts: list[AlertRule] = field(default_factory=list)
    alert_terms: Engine | None = None  # one pseudo-rule per alert rule with `terms`, id = alert rule id
    place_filters: dict[str, PlaceFilter] = field(default_factory=dict)  # alert rule id -> its `when.where`

    @property
    def category_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @cached_property
    def follow_up_categories(self) -> frozenset[str]:
        """Categories whose reports only join open events (`follow_up: true`)."""
        return frozenset(r.id for r in self.rules if r.follow_up)

    @cached_property
    def follow_up_targets(self) -> dict[str, frozenset[str]]:
        """Follow-up category -> the categories whose events it may update (`follows`; empty: any)."""
        return {r.id: frozenset(r.follows) for r in self.rules if r.follow_up}

    @cached_property
    def venue_categories(self) -> frozenset[str]:
        """Categories whose places are venues, not scenes (`venue: true`)."""
        return frozenset(r.id for r in self.rules if r.venue)


class RulesError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def rule_files(location: Path) -> list[Path]:
    """The rule files of a folder, hidden ones excluded (editor backups, a Kubernetes ConfigMap
    mount's `..data` copies), so each rule is read once."""
    if location.is_file():
        return [location]
    return sorted(
        p for p in location.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(location).parts)
    )


def load_rules(
    location: Path | None = None, use_c: bool = True, run_tests: bool = True, known_tags: set[str] | None = None
) -> RuleSet:
    """Loads and checks a rules folder (or one file); raises RulesError listing every problem.

    Checking goes on past the first problem: each rule is validated on its own, and the inline
    tests run on the rules that are valid, so one pass reports everything there is to fix.
    """
    location = location or DEFAULT_RULES
    problems: list[Problem] = []
    if not location.exists():
        raise RulesError([Problem(location, 0, "rules folder or file does not exist")])
    files = rule_files(location)
    if not files:
        raise RulesError([Problem(location, 0, "no .yaml rule files found")])
    parsed: list[ParsedFile] = []
    unparsed: set[str] = set()  # ids written in files that could not be parsed
    digest = hashlib.sha256()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(path, 0, f"cannot read: {exc}"))
            continue
        digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
        result = _parse_file(path, text, problems)
        if result is not None:
            parsed.append(result)
            unparsed.update(result.refused_ids)
        else:  # its categories are unknown: the rules naming them would each be a second, false error
            unparsed.update(_ID_LINE.findall(text))

    table = TermTable()
    compiled: list[CompiledRule] = []
    rules: list[CategoryRule] = []
    where: dict[str, tuple[Path, int]] = {}
    for pf in parsed:
        path, lines = pf.path, pf.lines
        for i, rule in pf.rules:
            base = ("rules", i)
            line = _line(lines, base)
            if rule.id in where:
                first = where[rule.id]
                problems.append(Problem(path, _line(lines, (*base, "id")), f"duplicate rule id {rule.id!r} (first defined at {first[0]}:{first[1]})"))
                continue
            where[rule.id] = (path, line)
            cond = _compile_condition(rule.match, table, path, lines, (*base, "match"), problems)
            if cond is None:
                continue
            if not cond.needs_a_term():
                problems.append(Problem(path, _line(lines, (*base, "match")), f"rule {rule.id!r}: condition is empty or would match a headline containing none of its terms; give it `any` or `all` terms"))
                continue
            compiled.append(CompiledRule(rule.id, rule.severity, tuple(rule.fields), cond, frozenset(cond.positive_terms())))
            rules.append(rule)
    for pf in parsed:
        for i, rule in pf.rules:
            if rule.follows and not rule.follow_up:
                problems.append(Problem(pf.path, _line(pf.lines, ("rules", i, "follows")),
                                        f"rule {rule.id!r}: `follows` is for a follow-up rule (`follow_up: true`)"))
            for j, cat in enumerate(rule.follows):
                if cat not in where and cat not in unparsed:
                    hint = difflib.get_close_matches(cat, sorted(where), n=1)
                    problems.append(Problem(pf.path, _line(pf.lines, ("rules", i, "follows", j)),
                                            f"rule {rule.id!r}: `follows` names unknown category {cat!r}"
                                            + (f" (did you mean {hint[0]!r}?)" if hint else "")))
    alerts, alert_terms, place_filters = _compile_alerts(parsed, set(where) | unparsed, known_tags, use_c, problems)
    engine = Engine(compiled, table, use_c=use_c)
    ruleset = RuleSet(engine, rules, digest.hexdigest()[:12], files, where, alerts, alert_terms, place_filters)
    if run_tests:
        valid = {r.id for r in rules}
        problems += _run_inline_tests(ruleset, [(pf.path, [(i, r) for i, r in pf.rules if r.id in valid], pf.lines) for pf in parsed])
    if problems:
        raise RulesError(sorted(problems, key=lambda p: (str(p.file), p.line)))
    return ruleset


def _compile_alerts(
    parsed: list[ParsedFile], categories: set[str], known_tags: set[str] | None, use_c: bool, problems: list[Problem]
) -> tuple[list[AlertRule], Engine, dict[str, PlaceFilter]]:
    table = TermTable()
    filters: dict[str, PlaceFilter] = {}
    compiled: list[CompiledRule] = []
    alerts: list[AlertRule] = []
    where: dict[str, tuple[Path, int]] = {}
    for pf in parsed:
        path, lines = pf.path, pf.lines
        for i, alert in pf.alerts:
            base = ("alerts", i)
            ok = True
            if alert.id in where:
                first = where[alert.id]
                problems.append(Problem(path, _line(lines, (*base, "id")), f"duplicate alert rule id {alert.id!r} (first defined at {first[0]}:{first[1]})"))
                continue
            where[alert.id] = (path, _line(lines, base))
            for j, cat in enumerate(alert.when.categories):
                if cat not in categories:
                    hint = difflib.get_close_matches(cat, sorted(categories), n=1)
                    problems.append(Problem(path, _line(lines, (*base, "when", "categories", j)),
                                            f"alert {alert.id!r}: unknown category {cat!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")))
                    ok = False
            if known_tags is not None:
                for j, tag in enumerate(alert.notify):
                    if tag not in known_tags:
                        hint = difflib.get_close_matches(tag, sorted(known_tags), n=1)
                        problems.append(Problem(path, _line(lines, (*base, "notify", j)),
                                                f"alert {alert.id!r}: no channel in the Apprise config has tag {tag!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")))
                        ok = False
            if alert.when.terms:
                cond = _compile_condition(Condition(any=alert.when.terms), table, path, lines, (*base, "when", "terms"), problems)
                if cond is None:
                    ok = False
                elif ok:
                    compiled.append(CompiledRule(alert.id, "info", ("title", "summary"), cond, frozenset(cond.positive_terms())))
            if alert.when.where is not None:
                resolved = resolve(alert.when.where, gazetteer())  # loaded only for rules with `where`
                for sub, message in resolved.problems:
                    problems.append(Problem(path, _line(lines, (*base, "when", "where", *sub)), f"alert {alert.id!r}: {message}"))
                    ok = False
                filters[alert.id] = resolved.filter
            if ok:
                alerts.append(alert)
    return alerts, Engine(compiled, table, use_c=use_c), filters


def check_rules(location: Path | None = None, known_tags: set[str] | None = None) -> tuple[RuleSet | None, list[Problem]]:
    try:
        return load_rules(location, known_tags=known_tags), []
    except RulesError as exc:
        return None, exc.problems


def unused_categories(ruleset: RuleSet) -> list[Problem]:
    """Warnings for categories no alert rule names: they classify, but can never alert,
    which is usually a forgotten `when.categories` entry. Not errors: such a set still loads.
    A follow-up category is meant to alert nothing by itself; one that an alert rule names is
    warned of instead, since that rule can never fire on it alone."""
    used = {c for alert in ruleset.alerts for c in alert.when.categories}
    out = []
    for rule in ruleset.rules:
        path, line = ruleset.lines[rule.id]
        if rule.follow_up and rule.id in used:
            out.append(Problem(path, line, f"warning: category {rule.id!r} is a follow-up (it only joins open events): "
                                           "an alert rule naming it never fires on it alone"))
        elif not rule.follow_up and rule.id not in used:
            out.append(Problem(path, line, f"warning: category {rule.id!r} is not used by any alert rule"))
    return out


def compile_rule(rule: CategoryRule, use_c: bool = True) -> Engine:
    """An engine of this one category rule: what `rules suggest` tries a changed rule with, without
    reading or writing any file. Raises RulesError for a term that does not compile."""
    problems: list[Problem] = []
    table = TermTable()
    cond = _compile_condition(rule.match, table, Path(f"<{rule.id}>"), {}, (), problems)
    if cond is None or problems:
        raise RulesError(problems)
    return Engine([CompiledRule(rule.id, rule.severity, tuple(rule.fields), cond, frozenset(cond.positive_terms()))],
                  table, use_c=use_c)


def match_lines(ruleset: RuleSet, rule_id: str) -> dict[tuple, int]:
    """Line of each item of a rule's `match` ((), ("any", 2), ("any", 2, "all", 1)...), read
    again from its file: only `rules test` needs them, so a loaded set does not keep them."""
    path, _ = ruleset.lines[rule_id]
    problems: list[Problem] = []
    parsed = _parse_file(path, path.read_text(encoding="utf-8"), problems)
    if parsed is None:
        raise RulesError(problems)
    index = next((i for i, rule in parsed.rules if rule.id == rule_id), None)
    if index is None:
        raise RulesError([Problem(path, 0, f"rule {rule_id!r} is no longer in this file")])
    base = ("rules", index, "match")
    return {loc[len(base):]: line for loc, line in parsed.lines.items() if loc[: len(base)] == base}


_ID_LINE = re.compile(r"""^\s*-?\s*id:\s*["']?([\w.-]+)""", re.MULTILINE)


def _quote_hint(text: str, line: int) -> str:
    """A quote left open runs on into the next lines, so YAML finds the problem after it: name the
    line that opened it (the error's, or one of the two before)."""
    lines = text.splitlines()
    for n in range(line, max(0, line - 3), -1):
        if n <= len(lines) and lines[n - 1].count('"') % 2 == 1:
            return f" (line {n} opens a quote it does not close)"
    return ""


def _parse_file(path: Path, text: str, problems: list[Problem]) -> ParsedFile | None:
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1) if mark else 1
        problems.append(Problem(path, line, f"YAML syntax: {exc.problem or exc}" + _quote_hint(text, line)))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(path, 1, f"YAML: {exc}"))
        return None
    lines: dict[tuple, int] = {}
    if node is not None:
        _index_lines(node, (), lines, path, problems)
    if not data:
        problems.append(Problem(path, 1, "the file is empty: refused, so that a truncated or emptied file cannot "
                                         "silently turn rules off (delete the file to remove its rules)"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "expected a mapping with a `rules:` list at the top"))
        return None
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            problems.append(Problem(path, _line(lines, (key,)), f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")))
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        problems.append(Problem(path, _line(lines, ("rules",)), "`rules` must be a list of rules"))
        return None
    items: list[tuple[int, CategoryRule]] = []
    refused: set[str] = set()
    for i, raw in enumerate(raw_rules):
        try:
            items.append((i, CategoryRule.model_validate(raw)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("rules", i, *err["loc"])
                problems.append(Problem(path, _line(lines, loc), _describe({**err, "loc": loc})))
            _check_terms_of_invalid_rule(raw, path, lines, ("rules", i, "match"), problems)
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                refused.add(raw["id"])
    raw_alerts = data.get("alerts") or []
    alerts: list[tuple[int, AlertRule]] = []
    if not isinstance(raw_alerts, list):
        problems.append(Problem(path, _line(lines, ("alerts",)), "`alerts` must be a list of alert rules"))
        raw_alerts = []
    for i, raw in enumerate(raw_alerts):
        try:
            alerts.append((i, AlertRule.model_validate(raw)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("alerts", i, *err["loc"])
                problems.append(Problem(path, _line(lines, loc), _describe({**err, "loc": loc})))
    return ParsedFile(path, items, alerts, lines, frozenset(refused))


def _check_terms_of_invalid_rule(raw: object, path: Path, lines: dict[tuple, int], loc: tuple, problems: list[Problem]) -> None:
    """A rule with a schema error still gets its terms checked, so one run reports everything."""
    if not isinstance(raw, dict) or "match" not in raw:
        return
    try:
        cond = Condition.model_validate(raw["match"])
    except ValidationError:
        return  # already reported
    _compile_condition(cond, TermTable(), path, lines, loc, problems)


def _index_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int], file: Path, problems: list[Problem]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        keys: set[Any] = set()
        for k, v in node.value:
            key = k.value
            if key in keys:
                problems.append(Problem(file, k.start_mark.line + 1, f"duplicate key {key!r}"))
            keys.add(key)
            lines[(*path, key)] = k.start_mark.line + 1
            _index_lines(v, (*path, key), lines, file, problems)
            lines[(*path, key)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines, file, problems)


def _line(lines: dict[tuple, int], loc: tuple) -> int:
    loc = tuple(x for x in loc if not (isinstance(x, str) and ("[" in x or x in ("str", "Condition"))))
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get((), 1)


def _describe(err: dict) -> str:
    loc = [x for x in err["loc"] if not (isinstance(x, str) and ("[" in x or x in ("str", "Condition")))]
    where = ".".join(str(x) for x in loc)
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        hint = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        return f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    if err["type"] == "missing":
        return f"{where}: required key missing"
    if err["type"] == "string_pattern_mismatch" and loc[-1] == "id":
        if loc[0] == "alerts":
            return f"{where}: alert rule id {err['input']!r} must use only a-z, 0-9, _ and -"
        return f"{where}: rule id {err['input']!r} must use only a-z, 0-9 and _ (it names a Kafka topic)"
    if err["type"] == "string_pattern_mismatch" and loc[-1] in ("window", "throttle"):
        return f"{where}: bad duration {err['input']!r}: use a number and a unit s, m, h or d, e.g. 15m or 1h30m"
    return f"{where}: {err['msg']}" + (f" (got {err['input']!r})" if not isinstance(err.get("input"), (dict, list)) else "")


def _compile_condition(
    cond: Condition, table: TermTable, path: Path, lines: dict[tuple, int], loc: tuple, problems: list[Problem]
) -> Cond | None:
    parts: dict[str, list] = {"any": [], "all": [], "none": []}
    ok = True
    for kind in parts:
        for i, item in enumerate(getattr(cond, kind)):
            here = (*loc, kind, i)
            if isinstance(item, str):
                try:
                    parts[kind].append(table.add(compile_term(item)))
                except TermError as exc:
                    problems.append(Problem(path, _line(lines, here), str(exc)))
                    ok = False
            else:
                sub = _compile_condition(item, table, path, lines, here, problems)
                if sub is None:
                    ok = False
                elif not sub.any and not sub.all and not sub.none:
                    problems.append(Problem(path, _line(lines, here), "empty condition"))
                    ok = False
                else:
                    parts[kind].append(sub)
    return Cond(tuple(parts["any"]), tuple(parts["all"]), tuple(parts["none"])) if ok else None


def _run_inline_tests(ruleset: RuleSet, parsed: list[tuple[Path, list[tuple[int, CategoryRule]], dict[tuple, int]]]) -> list[Problem]:
    problems = []
    engine = ruleset.engine
    for path, items, lines in parsed:
        for i, rule in items:
            for kind, expect in (("match", True), ("no_match", False)):
                for j, text in enumerate(getattr(rule.tests, kind)):
                    matches = {m.id: m for m in engine.classify(text)}
                    got = rule.id in matches
                    if got != expect:
                        line = _line(lines, ("rules", i, "tests", kind, j))
                        if expect:
                            hits = ", ".join(sorted({h.term for h in engine.explain(text)})) or "no term of any rule"
                            msg = f"rule {rule.id!r}: test expects a match but got none: {text!r} (terms found: {hits})"
                        else:
                            msg = f"rule {rule.id!r}: test expects no match but it matched {list(matches[rule.id].matched)}: {text!r}"
                        problems.append(Problem(path, line, msg))
    return problems
