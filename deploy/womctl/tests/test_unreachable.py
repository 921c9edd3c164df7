"""Every command that talks to Kafka fails fast, in one line and with exit code 2, when it cannot."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner
from wom_testkit import free_port
from womctl.cli import app

BROKER_COMMANDS = [
    ["topics"], ["topics", "apply"], ["topics", "list"], ["lag"], ["lag", "--group", "wom-rewards"],
    ["dlq", "list", "rewards"], ["dlq", "show", "rewards", "0:1"], ["dlq", "replay", "rewards", "--all"],
    ["dev", "publish-sample"], ["dev", "up"],
]  # fmt: skip


@pytest.mark.parametrize("command", BROKER_COMMANDS, ids=" ".join)
def test_a_closed_port_is_one_line_and_exit_code_2(command: list[str]) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["--timeout", "5", *command], env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
    )
    assert time.monotonic() - started < 5
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"cannot reach Kafka at 127.0.0.1:{port}: "), line
    assert "Connect call failed" in line or "refused" in line.lower(), line
