"""Is a message schema change safe for the consumers of our topics?

Compatible: adding a property (readers ignore what they do not know) that new readers do not
require. Incompatible: removing a property, changing its type, format or allowed values, making
a nullable property non-nullable, or requiring a property that older messages lack. An
incompatible change needs a new version (`name/N+1`), and readers keep accepting the previous one
(`core.contracts.read_message`).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def incompatibilities(old: Schema, new: Schema, new_required: set[str] | None = None) -> list[str]:
    """What breaks consumers going from `old` to `new` (published JSON Schemas); [] if nothing.
    `new_required`: properties the new reader requires on input (from the model's validation
    schema), which every old message must already carry."""
    problems: list[str] = []
    _compare(old, new, old, new, "", problems)
    old_props = set(_resolve(old, old).get("properties", {}))
    for name in sorted((new_required or set()) - old_props):
        problems.append(f"{name}: required by new readers, absent from earlier messages")
    return problems


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        node = root["$defs"][ref.split("/")[-1]]
    return node


def _variants(node: Schema, root: Schema) -> list[Schema]:
    node = _resolve(node, root)
    if "anyOf" in node or "oneOf" in node:
        return [_resolve(v, root) for v in node.get("anyOf", node.get("oneOf", []))]
    return [node]


def _kind(node: Schema) -> str:
    if "const" in node:
        return f"const {node['const']!r}"
    kind = node.get("type", "any")
    if "format" in node:
        kind += f" ({node['format']})"
    if "enum" in node:
        kind += f" {sorted(map(str, node['enum']))}"
    return kind


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, problems: list[str]) -> None:
    olds, news = _variants(old, old_root), _variants(new, new_root)
    old_kinds, new_kinds = {_kind(v) for v in olds}, {_kind(v) for v in news}
    if old_kinds != new_kinds:
        what = "nullable → not nullable" if old_kinds - new_kinds == {"null"} else f"{' | '.join(sorted(old_kinds))} → {' | '.join(sorted(new_kinds))}"
        problems.append(f"{path or '(message)'}: type changed: {what}")
        return
    for o in olds:
        n = next(v for v in news if _kind(v) == _kind(o))
        if o.get("type") == "object":
            o_props, n_props = o.get("properties", {}), n.get("properties", {})
            for name in o_props:
                where = f"{path}.{name}" if path else name
                if name not in n_props:
                    problems.append(f"{where}: removed")
                else:
                    _compare(o_props[name], n_props[name], old_root, new_root, where, problems)
        elif o.get("type") == "array" and "items" in o:
            _compare(o["items"], n.get("items", {}), old_root, new_root, f"{path}[]", problems)
