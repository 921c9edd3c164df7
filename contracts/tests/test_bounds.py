"""Every string and every list of the contracts is bounded, the schema says so, and a value one
past the bound is refused where it stands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from wom_contracts import EVENT_TYPES, model_for
from wom_contracts.compatibility import incompatibilities
from wom_contracts.samples import sample
from wom_contracts.schemas import schema_of

Path = tuple[str | int, ...]
# a time or a date is bounded by its grammar, which pydantic-core parses without a Python call
_GRAMMAR = {"date", "date-time"}


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return defs[ref.removeprefix("#/$defs/")] if isinstance(ref, str) else node


def leaves(
    node: dict[str, Any], defs: dict[str, Any], path: Path = ()
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(where, schema) of every string and every list of a schema, nested models and items too."""
    node = _resolve(node, defs)
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            yield from leaves(option, defs, path)
    if node.get("type") == "object":
        for name, child in node.get("properties", {}).items():
            yield from leaves(child, defs, (*path, name))
    elif node.get("type") == "array":
        yield path, node
        yield from leaves(node["items"], defs, (*path, 0))
    elif node.get("type") == "string":
        yield path, node


CASES = [
    (event_type, path, node)
    for event_type, schema in ((t, schema_of(t)) for t in sorted(EVENT_TYPES))
    for path, node in leaves(schema, schema.get("$defs", {}))
]


def _name(path: Path) -> str:
    return ".".join(str(part) for part in path)


@pytest.mark.parametrize(("event_type", "path", "node"), CASES, ids=[f"{t}:{_name(p)}" for t, p, _ in CASES])
def test_the_schema_bounds_it(event_type: str, path: Path, node: dict[str, Any]) -> None:
    if node["type"] == "array":
        assert "maxItems" in node, f"{event_type}: the list {_name(path)} has no maxItems"
    elif not ({"enum", "const"} & set(node) or node.get("format") in _GRAMMAR):
        assert "maxLength" in node, f"{event_type}: the string {_name(path)} has no maxLength"


def _oversize(node: dict[str, Any], current: Any) -> Any:
    """A value one past the bound that is otherwise valid: the bound alone refuses it."""
    if node["type"] == "array":
        return [current[0]] * (node["maxItems"] + 1)
    longest = node["maxLength"]
    match node.get("format"):
        case "email":
            domain = ".".join(["b" * 63] * 3) + ".com"
            return "a" * 64 + "@" + domain  # 260 characters, each part within its own limit
        case "ipvanyaddress":
            return "fe80::1%" + "e" * (longest - 7)  # a link-local address with a long zone id
        case "uri":
            return "https://shop.example.com/r/" + "a" * longest
    first = str(current)[0] if current not in (None, "") else "a"
    return first * (longest + 1)  # the sample's own first character, over and over


def _def_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return ref.removeprefix("#/$defs/")
    return next((name for option in node.get("anyOf", []) if (name := _def_name(option))), None)


def _instances(node: dict[str, Any], defs: dict[str, Any], value: Any, found: dict[str, Any]) -> None:
    """Every nested model's first instance in a sample, by its schema name."""
    name = _def_name(node)
    if name and isinstance(value, dict):
        found.setdefault(name, value)
    node = _resolve(node, defs) if name is None else defs[name]
    if isinstance(value, dict):
        for field, child in node.get("properties", {}).items():
            _instances(child, defs, value.get(field), found)
    elif isinstance(value, list):
        array = next((o for o in node.get("anyOf", [node]) if o.get("type") == "array"), {})
        for item in value:
            _instances(array.get("items", {}), defs, item, found)


LIBRARY: dict[str, Any] = {}
for _type in sorted(EVENT_TYPES):
    _schema = schema_of(_type)
    _instances(_schema, _schema.get("$defs", {}), json.loads(sample(_type).model_dump_json()), LIBRARY)


def _filler(node: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A valid instance of a nested model, or a list of one, taken from the samples."""
    array = next((o for o in node.get("anyOf", [node]) if o.get("type") == "array"), None)
    name = _def_name(array["items"] if array else node)
    assert name, f"no model to fill in for {node}"
    instance = json.loads(json.dumps(LIBRARY[name]))
    return [instance] if array else instance


def _reach(data: dict[str, Any], path: Path, schema: dict[str, Any]) -> tuple[Any, Any]:
    """The parent of `path` in the sample's JSON and the value there; a nested model or list the
    sample leaves out is filled in with an instance from another sample."""
    defs, node, parent = schema.get("$defs", {}), schema, data
    for depth, part in enumerate(path):
        node = next((o for o in node.get("anyOf", [node]) if o.get("type") != "null"), node)
        node = _resolve(node, defs)
        child_schema = node["items"] if isinstance(part, int) else node["properties"][part]
        child = parent[part] if isinstance(part, int) else parent.get(part)
        if depth == len(path) - 1:
            return parent, child
        if child in (None, []):
            child = _filler(child_schema, defs)
            parent[part] = child  # a list's first item is never missing: the list gets one
        parent, node = child, child_schema
    raise AssertionError("an empty path")


ENFORCED = [(t, p, n) for t, p, n in CASES if "maxItems" in n or "maxLength" in n]


@pytest.mark.parametrize(
    ("event_type", "path", "node"), ENFORCED, ids=[f"{t}:{_name(p)}" for t, p, _ in ENFORCED]
)
def test_one_past_the_bound_is_refused_at_that_field(
    event_type: str, path: Path, node: dict[str, Any]
) -> None:
    data = json.loads(sample(event_type).model_dump_json())
    parent, current = _reach(data, path, schema_of(event_type))
    if node["type"] == "array" and not current:
        current = _filler(node, schema_of(event_type).get("$defs", {}))
    parent[path[-1]] = _oversize(node, current)
    with pytest.raises(ValidationError) as refused:
        model_for(event_type).model_validate_json(json.dumps(data))
    assert [tuple(error["loc"]) for error in refused.value.errors()] == [path]


def test_a_bound_the_pattern_already_set_is_compatible_and_a_new_one_is_not() -> None:
    before = {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]{1,64}$"}}}
    same = {
        "type": "object",
        "properties": {"id": {"type": "string", "pattern": "^[a-z]{1,64}$", "maxLength": 64}},
    }
    assert incompatibilities(before, same) == []
    tighter = {
        "type": "object",
        "properties": {"id": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 64}},
    }
    loose = {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}
    assert incompatibilities(loose, tighter) == ["id: length changed (1..inf → 1..64 characters)"]
    assert incompatibilities(tighter, loose) == ["id: length changed (1..64 → 1..inf characters)"]
    listed = {
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 9}},
    }
    more = json.loads(json.dumps(listed))
    more["properties"]["ids"]["maxItems"] = 10
    assert incompatibilities(listed, more) == ["ids: length changed (0..9 → 0..10 items)"]
    email = {"type": "object", "properties": {"to": {"type": "string", "format": "email"}}}
    stated = {"type": "object", "properties": {"to": {"type": "string", "format": "email", "maxLength": 254}}}
    assert incompatibilities(email, stated) == []  # the validator refused longer ones already
