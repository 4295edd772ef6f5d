"""The YAML feeds file (`defaults:` and a `feeds:` list), read with the line of every key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ingest.feeds_source import Entry, Problem, Source

TOP_LEVEL_KEYS = ("defaults", "feeds")


def read_yaml(path: Path, text: str) -> Source:
    """Every structural problem of the file, and its entries for validation."""
    source = Source()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        source.problems.append(Problem(path, mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem or exc}"))
        return source
    except yaml.YAMLError as exc:
        source.problems.append(Problem(path, 1, f"not valid YAML: {exc}"))
        return source
    finally:
        loader.dispose()
    if not isinstance(data, dict) or node is None:
        source.problems.append(Problem(path, 1, "expected a mapping with a `feeds:` list"))
        return source
    top = _key_lines(node, path, source.problems)

    def line_of(key: str) -> int:  # a key brought in by a YAML merge (`<<:`) has no line of its own
        return top[key][0] if key in top else 1

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            source.problems.append(Problem(path, line_of(str(key)), f"unknown top-level key {key!r} (expected defaults, feeds)"))
    if data.get("defaults") is not None:
        defaults = data["defaults"]
        value_node = top["defaults"][1] if "defaults" in top else None
        if isinstance(defaults, dict):
            lines = _lines(value_node, path, source.problems) if isinstance(value_node, yaml.MappingNode) else {}
            source.defaults = Entry("defaults", line_of("defaults"), defaults, lines)
        else:
            source.problems.append(Problem(path, line_of("defaults"), "defaults: expected a mapping of feed options"))
    if not isinstance(data.get("feeds"), list):
        source.problems.append(Problem(path, line_of("feeds"), "expected a mapping with a `feeds:` list"))
        return source
    feeds_node = top["feeds"][1] if "feeds" in top else None
    item_nodes = feeds_node.value if isinstance(feeds_node, yaml.SequenceNode) else []
    for i, item in enumerate(data["feeds"]):
        item_node = item_nodes[i] if i < len(item_nodes) else None
        line = item_node.start_mark.line + 1 if item_node is not None else line_of("feeds")
        if not isinstance(item, dict):
            source.problems.append(Problem(path, line, f"feeds[{i}]: expected a mapping (id, url, ...)"))
            continue
        lines = _lines(item_node, path, source.problems) if isinstance(item_node, yaml.MappingNode) else {}
        source.entries.append(Entry(f"feeds[{i}]", line, item, lines))
    return source


def _key_lines(node: yaml.MappingNode, path: Path, problems: list[Problem]) -> dict[str, tuple[int, Any]]:
    """Each key's line and value node; a repeated key is a problem, not a silent override."""
    out: dict[str, tuple[int, Any]] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in out:
            problems.append(Problem(path, line, f"duplicate key {key!r} (first at line {out[key][0]})"))
        out[key] = (line, value_node)
    return out


def _lines(node: yaml.MappingNode, path: Path, problems: list[Problem]) -> dict[str, int]:
    return {key: line for key, (line, _) in _key_lines(node, path, problems).items()}
