"""`womctl contracts check`: every event model against its committed JSON Schema.

A model may change compatibly (a new optional field) within its major version; anything else is
a new major version on a new topic. The committed schemas are what publishers in other languages
validate against, so they must also equal what the models generate (`make schemas`).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wom_contracts import EVENT_TYPES
from wom_contracts.compatibility import incompatibilities
from wom_contracts.schemas import SCHEMA_DIR, render_schema, schema_of

__all__ = [
    "SCHEMA_DIR",
    "ContractsReport",
    "NoCommittedSchemas",
    "check_contracts",
    "render",
    "schemas_at_revision",
    "schemas_in",
]


class NoCommittedSchemas(RuntimeError):
    """git cannot show the committed schemas: not a git checkout, no git, or no such revision."""


@dataclass
class ContractsReport:
    """What the check found, per event type."""

    incompatible: dict[str, list[str]] = field(default_factory=dict)  # event type → what breaks
    stale: list[str] = field(default_factory=list)  # schema file differs from its model
    new: list[str] = field(default_factory=list)  # a model without a committed schema yet
    retired: list[str] = field(default_factory=list)  # a committed schema without a model

    @property
    def ok(self) -> bool:
        """Every model is compatible with its committed schema, and every schema file is current."""
        return not self.incompatible and not self.stale


def schemas_in(directory: Path) -> dict[str, dict[str, Any]]:
    """Event type → schema, from the `<event type>.json` files of a directory."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def _git(directory: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise NoCommittedSchemas(f"git {' '.join(args)}: {detail.strip()}") from None
    return done.stdout


def schemas_at_revision(revision: str = "HEAD", directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """Event type → schema, as committed at `revision` in the schemas directory."""
    names = _git(directory, "ls-tree", "--name-only", revision, "./").split()  # relative to directory
    return {
        name.removesuffix(".json"): json.loads(_git(directory, "show", f"{revision}:./{name}"))
        for name in sorted(names)
        if name.endswith(".json")
    }


def check_contracts(committed: dict[str, dict[str, Any]], directory: Path = SCHEMA_DIR) -> ContractsReport:
    """Compare every model with its committed schema, and the schema files in `directory` with the models."""
    report = ContractsReport()
    for event_type in sorted(EVENT_TYPES):
        if event_type not in committed:
            report.new.append(event_type)
        elif problems := incompatibilities(committed[event_type], schema_of(event_type)):
            report.incompatible[event_type] = problems
        path = directory / f"{event_type}.json"
        if not path.exists() or path.read_text() != render_schema(event_type):
            report.stale.append(event_type)
    report.retired = sorted(set(committed) - set(EVENT_TYPES))
    return report


def render(report: ContractsReport, baseline: str) -> str:
    """The report as plain text; `baseline` names what the models were compared with."""
    lines = []
    for event_type, problems in report.incompatible.items():
        lines.append(f"{event_type}: INCOMPATIBLE with its schema at {baseline}:")
        lines += [f"  {problem}" for problem in problems]
    if report.incompatible:
        lines.append(
            "An incompatible change needs a new major version: a new model (…V2) on a new topic (….v2), "
            "published side by side until consumers have moved (contracts/README.md)."
        )
    for event_type in report.stale:
        lines.append(f"{event_type}.json differs from its model: run `make schemas`, then commit it")
    if report.new:
        lines.append(f"new event types, no schema at {baseline} yet: {', '.join(report.new)}")
    if report.retired:
        lines.append(f"schemas at {baseline} without a model (retired types): {', '.join(report.retired)}")
    if report.ok:
        lines.append(
            f"ok: {len(EVENT_TYPES)} event models compatible with their schemas at {baseline}, "
            "and every schema file is current"
        )
    return "\n".join(lines)
