"""The one loader of rule folders: used by `rules check`, the processor's hot reload,
`rules eval`, `classify` and the benchmarks alike. Every problem comes out as FILE:LINE."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.engine import CompiledRule, Cond, Engine, TermError, TermTable, compile_term
from rules.model import KNOWN_KEYS, CategoryRule, Condition

TOP_LEVEL_KEYS = ["rules"]

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
class RuleSet:
    engine: Engine
    rules: list[CategoryRule]
    version: str
    files: list[Path]
    lines: dict[str, tuple[Path, int]] = field(default_factory=dict)

    @property
    def category_ids(self) -> list[str]:
        return [r.id for r in self.rules]


class RulesError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def rule_files(location: Path) -> list[Path]:
    if location.is_file():
        return [location]
    return sorted(p for p in location.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rules(location: Path | None = None, use_c: bool = True, run_tests: bool = True) -> RuleSet:
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
    parsed: list[tuple[Path, list[tuple[int, CategoryRule]], dict[tuple, int]]] = []
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

    table = TermTable()
    compiled: list[CompiledRule] = []
    rules: list[CategoryRule] = []
    where: dict[str, tuple[Path, int]] = {}
    for path, items, lines in parsed:
        for i, rule in items:
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
    engine = Engine(compiled, table, use_c=use_c)
    ruleset = RuleSet(engine, rules, digest.hexdigest()[:12], files, where)
    if run_tests:
        valid = {r.id for r in rules}
        problems += _run_inline_tests(ruleset, [(p, [(i, r) for i, r in items if r.id in valid], ls) for p, items, ls in parsed])
    if problems:
        raise RulesError(sorted(problems, key=lambda p: (str(p.file), p.line)))
    return ruleset


def check_rules(location: Path | None = None) -> tuple[RuleSet | None, list[Problem]]:
    try:
        return load_rules(location), []
    except RulesError as exc:
        return None, exc.problems


def _parse_file(path: Path, text: str, problems: list[Problem]) -> tuple[Path, list[tuple[int, CategoryRule]], dict[tuple, int]] | None:
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(path, (mark.line + 1) if mark else 1, f"YAML syntax: {exc.problem or exc}"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(path, 1, f"YAML: {exc}"))
        return None
    lines: dict[tuple, int] = {}
    if node is not None:
        _index_lines(node, (), lines, path, problems)
    if data is None:
        data = {}
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
    for i, raw in enumerate(raw_rules):
        try:
            items.append((i, CategoryRule.model_validate(raw)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ("rules", i, *err["loc"])
                problems.append(Problem(path, _line(lines, loc), _describe({**err, "loc": loc})))
            _check_terms_of_invalid_rule(raw, path, lines, ("rules", i, "match"), problems)
    return path, items, lines


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
        return f"{where}: rule id {err['input']!r} must use only a-z, 0-9 and _ (it names a Kafka topic)"
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
