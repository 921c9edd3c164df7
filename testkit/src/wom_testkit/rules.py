"""A service's shipped rules file, changed for a test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["rules_file"]


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


def rules_file(directory: Path, shipped: Path, changes: dict[str, Any] | None = None) -> Path:
    """A copy of a service's shipped rules file in `directory` with `changes` applied key by key
    (nested mappings merged, None removes a key)."""
    rules = _merged(yaml.safe_load(shipped.read_text(encoding="utf-8")), changes or {})
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path
