"""`womctl --help` sets the operator's commands apart from the tools for one machine (`womctl dev`)."""

from __future__ import annotations

import re

from typer.testing import CliRunner
from womctl.cli import DEVELOPMENT, OPERATIONS, app

OPERATOR_COMMANDS = ["topics", "lag", "dlq", "contracts", "kafka", "token", "migrate"]
DEV_COMMANDS = ["up", "demo", "broker", "smtp", "publish-sample"]


def panels(text: str) -> dict[str, list[str]]:
    """The commands of each panel of rich's help: {panel title: [command, ...]}."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if title := re.match(r"╭─ (.+?) ─", line):
            current = found.setdefault(title.group(1), [])
        elif current is not None and (command := re.match(r"│ ([a-z][a-z-]*)\s", line)):
            current.append(command.group(1))
    return found


def test_the_top_level_help_shows_operations_and_development_apart() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = panels(result.stdout)
    assert sorted(shown[OPERATIONS]) == sorted(OPERATOR_COMMANDS)
    assert shown[DEVELOPMENT] == ["dev"]


def test_the_development_tools_live_under_dev_only() -> None:
    result = CliRunner().invoke(app, ["dev", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert panels(result.stdout)["Commands"] == DEV_COMMANDS
    for command in DEV_COMMANDS:
        moved = CliRunner().invoke(app, [command, "--help"])
        assert moved.exit_code == 2 and "No such command" in moved.output, command
