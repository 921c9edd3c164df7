"""The README lists every message kind with its class."""

from __future__ import annotations

from pathlib import Path

from outreach.kinds import KINDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_kind_is_documented_with_its_class_and_an_example() -> None:
    for name, kind in KINDS.items():
        assert f"| `{name}` | {kind.message_class} |" in README, name
        assert f"### `{name}`" in README, name
