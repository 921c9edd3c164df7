"""Rules files: YAML read into a typed model at start-up, every error naming its key path."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["RulesError", "load_rules_file"]

M = TypeVar("M", bound=BaseModel)


class RulesError(ValueError):
    """A rules file is missing, not YAML, or breaks a rule; the message names the key."""


def load_rules_file(path: Path, model: type[M]) -> M:
    """Read `path` (YAML) and validate it as `model`; raise `RulesError` naming each bad key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RulesError(f"cannot read rules file {path}: {error}") from None
    except yaml.YAMLError as error:
        raise RulesError(f"rules file {path} is not valid YAML: {error}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise RulesError(f"rules file {path} is invalid: {problems}") from None
