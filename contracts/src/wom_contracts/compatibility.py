"""Schema compatibility within one major version.

Rules: adding an optional field is compatible. Removing a field, changing a field's type
(nested models included), making an optional field required, making a required field optional,
adding a required field, or changing how long a string or a list may be is not; such a change is
a new major version on a new topic. A string's length is what its schema allows in all: a
`maxLength` written down where an anchored pattern (or the email format) already bounded the
value to the same length changes nothing.

Both directions count because both sides of a topic live with the change: a publisher on the
new schema may omit a field that was required, and a consumer still built on the old model then
refuses (dead-letters) every such record.
"""

from __future__ import annotations

import math
import re._parser as regex_parser  # the width of a pattern; the parser `re` itself compiles with
from typing import Any

__all__ = ["incompatibilities"]


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What `new` breaks for consumers and publishers of `old`; empty when compatible."""
    return _compare_object(old, new, old.get("$defs", {}), new.get("$defs", {}), "")


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(defs.get(ref.removeprefix("#/$defs/"), {}))
    return schema


def _compare_object(
    old: dict[str, Any], new: dict[str, Any], old_defs: dict[str, Any], new_defs: dict[str, Any], path: str
) -> list[str]:
    problems: list[str] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_props):
        field = f"{path}{name}"
        if name not in new_props:
            problems.append(f"{field}: removed")
            continue
        if name in new_required and name not in old_required:
            problems.append(f"{field}: optional field became required")
        if name in old_required and name not in new_required:
            problems.append(f"{field}: required field became optional")
        problems += _compare_type(old_props[name], new_props[name], old_defs, new_defs, f"{field}")
    for name in sorted(set(new_props) - set(old_props)):
        if name in new_required:
            problems.append(f"{path}{name}: new required field")
    return problems


_IGNORED = {"title", "description", "default", "examples", "$id", "x-event-type", "x-topic"}


def _compare_type(
    old: dict[str, Any], new: dict[str, Any], old_defs: dict[str, Any], new_defs: dict[str, Any], path: str
) -> list[str]:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    if "properties" in old or "properties" in new:
        if "properties" not in old or "properties" not in new:
            return [f"{path}: type changed"]
        return _compare_object(old, new, old_defs, new_defs, f"{path}.")
    for key in ("anyOf", "oneOf"):
        if key in old or key in new:
            old_options, new_options = old.get(key, [old]), new.get(key, [new])
            if len(old_options) != len(new_options):
                return [f"{path}: type changed"]
            problems: list[str] = []
            for old_option, new_option in zip(old_options, new_options, strict=True):
                problems += _compare_type(old_option, new_option, old_defs, new_defs, path)
            return problems
    if "items" in old or "items" in new:
        if old.get("type") != new.get("type") or "items" not in old or "items" not in new:
            return [f"{path}: type changed"]
        problems = _compare_bounds(path, "items", _items(old), _items(new))
        return problems + _compare_type(old["items"], new["items"], old_defs, new_defs, f"{path}[]")
    problems = _compare_bounds(path, "characters", _length(old), _length(new))
    old_shape = {k: v for k, v in old.items() if k not in _IGNORED | _LENGTH}
    new_shape = {k: v for k, v in new.items() if k not in _IGNORED | _LENGTH}
    return problems if old_shape == new_shape else [f"{path}: type changed ({old_shape} → {new_shape})"]


_LENGTH = {"minLength", "maxLength"}
# what a format's validator allows beyond the schema's own words: pydantic's EmailStr
# (email-validator) refuses an address over RFC 5321's 254 characters
_FORMAT_MAX = {"email": 254}
Bounds = tuple[float, float]


def _length(schema: dict[str, Any]) -> Bounds:
    """The shortest and longest string `schema` allows, all its keywords together."""
    low, high = float(schema.get("minLength", 0)), float(schema.get("maxLength", math.inf))
    high = min(high, _FORMAT_MAX.get(schema.get("format", ""), math.inf))
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern.startswith("^") and pattern.endswith("$"):
        shortest, longest = regex_parser.parse(pattern).getwidth()
        low = max(low, shortest)
        if longest < regex_parser.MAXREPEAT:  # the parser's "no bound"
            high = min(high, longest)
    return low, high


def _items(schema: dict[str, Any]) -> Bounds:
    return float(schema.get("minItems", 0)), float(schema.get("maxItems", math.inf))


def _compare_bounds(path: str, unit: str, old: Bounds, new: Bounds) -> list[str]:
    """A bound moved either way breaks one side: tighter refuses what publishers sent, looser
    lets through what consumers on the old model refuse."""
    if old == new:
        return []
    shown = [f"{low:g}..{high:g}" for low, high in (old, new)]
    return [f"{path}: length changed ({shown[0]} → {shown[1]} {unit})"]
