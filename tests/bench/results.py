"""`var/bench/results.json`: every figure a `make bench` run prints, as nested JSON, with the
machine, the commit and the options of the run; the same run also in `results-<UTC time>.json`
beside it, so that runs can be compared.

Figures are put by their dotted path (`consume.rewards.batch.per_s`); a part that did not run
has no keys, and a figure the run could not measure (a rate of fewer than two commits) is null.
"""

from __future__ import annotations

import json
import math
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.harness import load_average, machine_facts

__all__ = ["ROOT", "Results"]

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _figure(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _figure(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_figure(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


class Results:
    """The figures of one run, by dotted path."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.started = datetime.now(UTC)
        status = _git("status", "--porcelain")
        self.tree: dict[str, Any] = {
            "commit": _git("rev-parse", "HEAD"),
            "dirty": bool(status) if status is not None else None,  # uncommitted changes in the tree
            "started_at": self.started.isoformat(timespec="seconds"),
            "options": _figure(options),
            "machine": {**machine_facts(), "load_before": load_average()},
        }

    def put(self, path: str, value: Any) -> None:
        """Set the figure at `path` (dots separate the levels)."""
        *parents, leaf = path.split(".")
        node = self.tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = _figure(value)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write `results.json` and `results-<UTC start time>.json` in `directory`; both paths."""
        self.tree["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.put("machine.load_after", load_average())
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.tree, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        latest = directory / "results.json"
        stamped = directory / f"results-{self.started:%Y%m%dT%H%M%SZ}.json"
        for path in (stamped, latest):
            path.write_text(text)
        return latest, stamped
