"""`watchfloor rules ...` and `watchfloor classify`: the operators' tools, over the one rules loader."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import typer

from rules.places import place_label, tag

from rules.apprise_tags import configured_tags
from rules.engine import Failure, Hit
from rules.loader import DEFAULT_RULES, RuleSet, RulesError, load_rules, match_lines, unused_categories
from core.settings import Settings

rules_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="Check, test and evaluate rule files.")

RulesOption = typer.Option(None, "--rules", help="rules folder or file (default: WATCHFLOOR_RULES or the shipped packs)")


def rules_location(option: Path | None) -> Path:
    return option or Settings.from_env().rules_dir or DEFAULT_RULES


def _load_or_exit(location: Path) -> RuleSet:
    from core.settings import ConfigError

    try:
        return load_rules(location, known_tags=configured_tags(Settings.from_env()))
    except ConfigError as exc:  # e.g. an unreadable Apprise config
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    except RulesError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{len(exc.problems)} problem(s) in {location}", err=True)
        raise typer.Exit(1)


@rules_app.command("check")
def check(directory: Optional[Path] = typer.Argument(None, help="rules folder or file")) -> None:
    """Report every problem as FILE:LINE: message; exit 1 if there is any. Warnings (e.g. a
    category no alert rule uses) are printed the same way but leave the exit code at 0."""
    location = rules_location(directory)
    ruleset = _load_or_exit(location)
    warnings = unused_categories(ruleset)
    for warning in warnings:
        typer.echo(str(warning), err=True)
    tests = sum(len(r.tests.match) + len(r.tests.no_match) for r in ruleset.rules)
    typer.echo(f"ok: {len(ruleset.rules)} rules in {len(ruleset.files)} file(s), {len(ruleset.engine.table.terms)} terms, "
               f"{tests} inline tests passed, version {ruleset.version}" + (f", {len(warnings)} warning(s)" if warnings else ""))


@rules_app.command("test")
def test(
    headline: str = typer.Argument(..., help="a headline to try"),
    summary: str = typer.Option("", "--summary", help="optional summary text"),
    language: Optional[str] = typer.Option(None, "--language", help="the feed's language (uk, ru, en): guides places"),
    rules: Optional[Path] = RulesOption,
    every_reason: bool = typer.Option(False, "--all", help="every reason a rule does not match, however deep"),
) -> None:
    """Show the places a headline names, which rules match it and why (terms and word positions);
    for rules that found terms but do not match, why not (the `none` term that vetoed, the `all`
    item missing), the first 6 lines of each unless --all. Exit 1 if none matches."""
    ruleset = _load_or_exit(rules_location(rules))
    engine = ruleset.engine
    places = tag(headline, summary, language)
    typer.echo("places: " + ("; ".join(f"{place_label(p.name, p.kind, p.country)} ({p.kind}, GeoNames {p.id})"
                                       for p in places) or "none found"))
    matches = engine.classify(headline, summary)
    hits = engine.explain(headline, summary)
    for m in matches:
        typer.echo(f"MATCH {m.id} ({m.severity})")
        for term in m.matched:
            for h in hits:
                if h.term == term:
                    typer.echo(f"    {term!r} in {h.field} at word {h.word + 1}: {' '.join(h.words)!r}")
    found_terms = {h.term for h in hits}
    why_not = engine.why_not(headline, summary)
    for rule in ruleset.rules:
        if rule.id not in why_not:
            continue
        path, line = ruleset.lines[rule.id]
        typer.echo(f"no match {rule.id} ({path}:{line}): found {sorted(found_terms & _terms_of(rule.match))}")
        lines = match_lines(ruleset, rule.id)
        reasons: list[str] = []
        for failure in why_not[rule.id]:
            _failure_lines(failure, lines, hits, "    ", reasons)
        shown = reasons if every_reason else reasons[:REASONS_SHOWN]
        for text in shown:
            typer.echo(text)
        if len(shown) < len(reasons):
            typer.echo(f"    … {len(reasons) - len(shown)} more (--all shows every reason)")
    if not matches:
        typer.echo("no rule matches")
        raise typer.Exit(1)


REASONS_SHOWN = 6  # a shipped pack's rule has dozens of branches: the first few say enough


def _failure_lines(failure: Failure, lines: dict[tuple, int], hits: list[Hit], indent: str, out: list[str]) -> None:
    """One reason per line with its line in the rule file, and where a vetoing term was found."""
    loc = failure.loc
    while loc and loc not in lines:
        loc = loc[:-1]
    causes = failure.causes
    if len(causes) == 1 and causes[0].kind == "no_any" and not causes[0].causes:
        # a nested condition none of whose `any` items is present: one line, not two
        text = f"{indent}{'missing ' if failure.kind == 'missing' else ''}{failure.where}: none of its `any` items is present"
        causes = ()
    else:
        text = f"{indent}{failure}"
    text += f" (line {lines.get(loc, lines.get((), 0))})"
    if failure.kind == "vetoed" and failure.term is not None:
        text += "".join(f"; {' '.join(h.words)!r} in {h.field} at word {h.word + 1}" for h in hits if h.term == failure.term)
    out.append(text)
    for cause in causes:
        _failure_lines(cause, lines, hits, indent + "    ", out)


def _terms_of(cond) -> set[str]:  # type: ignore[no-untyped-def]
    out: set[str] = set()
    for item in (*cond.any, *cond.all, *cond.none):
        out |= {item} if isinstance(item, str) else _terms_of(item)
    return out


@rules_app.command("eval-places")
def evaluate_places_cmd(
    file: Path = typer.Argument(..., help="JSON lines with text (or title), language and places; or line numbers"),
    headlines: Optional[Path] = typer.Option(None, "--headlines", help="the file `line` numbers point into"),
    split: str = typer.Option("all", "--split", help="all, tune or test (rows carry a split; English by date)"),
    show: int = typer.Option(20, "--show", help="wrong places to print"),
) -> None:
    """Precision and recall of the geotagger (the tagger `process` runs) on headlines labelled with
    their places, overall, per kind and per language (docs/places.md)."""
    from rules.places.evaluate import load, score

    try:
        rows = [r for r in load(file, headlines) if split == "all" or r.split == split]
    except (ValueError, OSError, KeyError, IndexError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    s = score(rows)
    typer.echo(f"{len(rows)} headlines ({split})\n{'':10} precision  recall     F1  places")
    for key in ("all", "city", "region", "country", *sorted({r.language or "?" for r in rows})):
        typer.echo(f"{key:10} {s.precision(key):9.3f} {s.recall(key):7.3f} {s.f1(key):6.3f} {s.tp[key] + s.fn[key]:7d}")
    for line in sorted(s.errors)[:show]:
        typer.echo("  " + line)


@rules_app.command("eval")
def evaluate_cmd(
    file: Path = typer.Argument(..., help="JSON lines with title (or line), optional summary, and labels"),
    rules: Optional[Path] = RulesOption,
    show: int = typer.Option(50, "--show", help="misclassified examples to print"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    lines_from: Optional[Path] = typer.Option(None, "--lines-from",
                                              help="text file of one headline per line, for items that give a `line`"),
    split: Optional[str] = typer.Option(None, "--split", help="only the items of this split (tune or test)"),
) -> None:
    """Per-category precision, recall, F1 and support on labelled headlines (per language too when
    there are several), and the misclassified ones."""
    from rules.evaluate import EvalInputError, evaluate, format_table, read_labelled

    ruleset = _load_or_exit(rules_location(rules))
    try:
        ev = evaluate(ruleset.engine, ruleset.category_ids, read_labelled(file, lines_from, split))
    except (EvalInputError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    if split is not None and not ev.examples:
        typer.echo(f"error: no item of {file} has \"split\": \"{split}\"", err=True)
        raise typer.Exit(2)

    def scores(table: dict) -> dict:
        return {c: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support,
                    "tp": s.tp, "fp": s.fp, "fn": s.fn} for c, s in table.items()}

    if json_out:
        typer.echo(json.dumps({
            "rules_version": ruleset.version, "examples": ev.examples, "split": split,
            "categories": scores(ev.scores),
            "languages": {lang: {"examples": ev.examples_by_language[lang], "categories": scores(table)}
                          for lang, table in sorted(ev.by_language.items())},
            "misclassified": [m.__dict__ for m in ev.misses],
        }, ensure_ascii=False))
        return
    typer.echo(f"{ev.examples} examples{f' (split {split})' if split else ''}, rules version {ruleset.version}\n")
    typer.echo(format_table(ev))
    if len(ev.by_language) > 1:
        for lang, table in sorted(ev.by_language.items()):
            typer.echo(f"\n{lang}: {ev.examples_by_language[lang]} examples")
            typer.echo(format_table(ev, {c: s for c, s in table.items() if s.support or s.fp}))
    if ev.misses:
        typer.echo(f"\n{len(ev.misses)} misclassified" + (f" (first {show})" if len(ev.misses) > show else "") + ":")
        for m in ev.misses[:show]:
            typer.echo(f"  {file}:{m.line}: expected {m.expected} got {m.got}: {m.title}")


def classify(rules: Optional[Path] = RulesOption) -> None:
    """Read JSON lines (or plain titles) on stdin; write each with its "categories" and "places", in order.

    A line that starts with `{` but is not JSON is a broken record, not a title: it is reported
    on stderr with its line number, skipped, and the command exits 1 at the end."""
    ruleset = _load_or_exit(rules_location(rules))
    engine = ruleset.engine
    interactive = sys.stdin.isatty()
    out = sys.stdout
    bad = 0
    for number, line in enumerate(sys.stdin, 1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except ValueError as exc:
            if text.lstrip().startswith("{"):
                bad += 1
                why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                typer.echo(f"line {number}: not valid JSON: {why}", err=True)
                continue
            item = None
        if not isinstance(item, dict):
            item = {"title": text}
        title = item.get("title") if isinstance(item.get("title"), str) else ""
        summary = item.get("summary") if isinstance(item.get("summary"), str) else ""
        item["categories"] = [
            {"id": m.id, "severity": m.severity, "matched": list(m.matched)} for m in engine.classify(title, summary)
        ]
        language = item.get("language") if isinstance(item.get("language"), str) else None
        item["places"] = [p.as_dict() for p in tag(title, summary, language)]
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        if interactive:
            out.flush()
    out.flush()
    if bad:
        typer.echo(f"{bad} line(s) were not valid JSON and were skipped", err=True)
        raise typer.Exit(1)


@rules_app.command("backtest")
def backtest(
    rules: Path = typer.Option(..., "--rules", help="the candidate rules folder or file"),
    since: Optional[str] = typer.Option(None, "--since", help="how far back, e.g. 6h, 7d (default 7d)"),
    from_: Optional[datetime] = typer.Option(None, "--from", help="start time (ISO 8601, UTC if no offset)"),
    to: Optional[datetime] = typer.Option(None, "--to", help="end time (default: now)"),
    current: Optional[Path] = typer.Option(None, "--current", help="rules to compare against (default: the rules in force, WATCHFLOOR_RULES or the shipped packs)"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    examples: int = typer.Option(3, "--examples", help="example headlines printed per change"),
) -> None:
    """Replay the raw topic's history through candidate rules; report what they gain and lose
    per category and which alerts would (no longer) fire. Reads only: commits and writes nothing."""
    from watchfloor.backtest import Backtest, format_report

    start, end, now = _time_range(since, from_, to)
    in_force, candidate = _load_or_exit(rules_location(current)), _load_or_exit(rules)
    if in_force.version == candidate.version:  # an edit of the live folder itself, compared with itself
        typer.echo(f"warning: the candidate is the rules in force (version {in_force.version}), so nothing can "
                   "differ; give the rules in force with --current DIR (e.g. a copy from before the edit)", err=True)
    from alerting.meaning import meanings

    test = Backtest(in_force, candidate)
    _read_raw_history(start, end, test.add)
    report = test.finish(meanings=meanings() if Settings.from_env().event_meaning else None)
    if json_out:
        out = report.as_dict()
        out["range"] = {"from": start.isoformat(), "to": (end or now).isoformat()}
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(f"{start:%Y-%m-%d %H:%M} .. {(end or now):%Y-%m-%d %H:%M} UTC: " + format_report(report, examples))


def _time_range(since: Optional[str], from_: Optional[datetime], to: Optional[datetime]) -> tuple[datetime, Optional[datetime], datetime]:
    """(start, end or None for "up to now", now) of --since / --from / --to; exit 2 when wrong."""
    from rules.model import parse_duration

    if since and from_:
        typer.echo("error: give --since or --from, not both", err=True)
        raise typer.Exit(2)
    now = datetime.now(timezone.utc)
    try:
        start = _utc(from_) if from_ else now - timedelta(seconds=parse_duration(since or "7d"))
    except ValueError as exc:
        typer.echo(f"error: --since: {exc}", err=True)
        raise typer.Exit(2)
    return start, (_utc(to) if to else None), now


def _read_raw_history(start: datetime, end: Optional[datetime], add) -> None:  # type: ignore[no-untyped-def]
    """Feeds `add` the raw topic's (timestamp ms, value) batches of [start, end), with a progress
    bar; a broker or setting problem is one line on stderr and exit 2. Reads only."""
    import asyncio

    from aiokafka.errors import KafkaConnectionError, KafkaError

    from core.history import read_range
    from core.kafka import connection_problem
    from core.settings import ConfigError
    from core.topics import Topics

    settings = Settings.from_env()

    async def replay() -> None:
        bar = None
        try:
            def opened(span) -> None:  # type: ignore[no-untyped-def]
                nonlocal bar
                bar = typer.progressbar(length=span.total, label="reading", file=sys.stderr).__enter__()

            async for batch in read_range(settings, Topics(settings.topic_prefix).raw, start, end, on_span=opened):
                add(batch)
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)

    try:
        settings.require_bootstrap()
        asyncio.run(replay())
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    except KafkaConnectionError as exc:
        typer.echo(f"error: {connection_problem(settings, exc)}", err=True)
        raise typer.Exit(2)
    except KafkaError as exc:
        typer.echo(f"error: cannot read the raw topic from {settings.bootstrap}: {exc}", err=True)
        raise typer.Exit(2)


@rules_app.command("suggest")
def suggest_cmd(
    file: Optional[Path] = typer.Option(None, "--file", help="headlines to mine instead of the raw topic: plain titles, or JSON lines with title and summary"),
    rule: Optional[list[str]] = typer.Option(None, "--rule", help="only this category rule (repeatable)"),
    rules: Optional[Path] = RulesOption,
    since: Optional[str] = typer.Option(None, "--since", help="how far back in the raw topic, e.g. 6h, 7d (default 7d)"),
    from_: Optional[datetime] = typer.Option(None, "--from", help="start time (ISO 8601, UTC if no offset)"),
    to: Optional[datetime] = typer.Option(None, "--to", help="end time (default: now)"),
    top: int = typer.Option(10, "--top", help="terms shown per rule"),
    min_support: int = typer.Option(2, "--min", help="confirmed headlines a term must gain"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Terms the rules may be missing, mined from history: near-misses of each rule, and what each
    proposed term would gain (confirmed: shares a story with a matched headline; unconfirmed:
    possible false alarms) and lose. Changes no rule: an operator reviews and edits."""
    from rules.suggest import Headline, suggest

    ruleset = _load_or_exit(rules_location(rules))
    unknown = sorted(set(rule or []) - set(ruleset.category_ids))
    if unknown:
        typer.echo(f"error: no category rule {', '.join(unknown)} (rules: {', '.join(ruleset.category_ids)})", err=True)
        raise typer.Exit(2)
    headlines: list[Headline] = []
    seen: set[str] = set()

    def add(batch) -> None:  # type: ignore[no-untyped-def]
        for timestamp, value in batch:
            try:
                item = json.loads(value)
                hid, title = item["id"], item["title"]
            except (TypeError, ValueError, KeyError):
                continue
            if hid not in seen and isinstance(title, str):
                seen.add(hid)
                summary = item.get("summary")
                headlines.append(Headline(title, summary if isinstance(summary, str) else "", at=timestamp / 1000))

    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2)
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                if line.lstrip().startswith("{"):  # a broken record, not a title (as `classify` says)
                    typer.echo(f"error: {file}:{number}: not valid JSON", err=True)
                    raise typer.Exit(2)
                item = None
            if isinstance(item, dict) and isinstance(item.get("title"), str):
                summary = item.get("summary")
                headlines.append(Headline(item["title"], summary if isinstance(summary, str) else ""))
            else:
                headlines.append(Headline(line.strip()))
    else:
        start, end, _ = _time_range(since, from_, to)
        _read_raw_history(start, end, add)
    results = suggest(ruleset, headlines, rule or None, top=top, min_support=min_support)
    if json_out:
        typer.echo(json.dumps({"rules_version": ruleset.version, "headlines": len(headlines), "rules": [
            {"rule": r.rule, "matched": r.matched, "near_misses": r.near_misses, "same_story": r.same_story,
             "suggestions": [{"term": s.term, "where": s.path, "confirmed": s.confirmed, "unconfirmed": s.unconfirmed,
                              "lost": s.lost, "examples": s.examples, "unconfirmed_examples": s.other_examples}
                             for s in r.suggestions]} for r in results]}, ensure_ascii=False))
        return
    typer.echo(f"{len(headlines)} headlines, rules version {ruleset.version}. Nothing was changed: review, then edit the rule.")
    for r in results:
        path, _ = ruleset.lines[r.rule]
        typer.echo(f"\n{r.rule} ({path}): matches {r.matched}; near-misses {r.near_misses}, "
                   f"{r.same_story} sharing a story with a match")
        if not r.suggestions:
            typer.echo("  no term gains enough confirmed headlines")
        for s in r.suggestions:
            typer.echo(f"  {json.dumps(s.term, ensure_ascii=False):<24} into {s.path}: +{s.confirmed} confirmed, "
                       f"+{s.unconfirmed} unconfirmed, -{s.lost}")
            for title in s.examples[:2]:
                typer.echo(f"      + {title[:110]}")
            for title in s.other_examples[:1]:
                typer.echo(f"      ? {title[:110]}")


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
