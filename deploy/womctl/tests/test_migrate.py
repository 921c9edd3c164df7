"""`womctl migrate <service>`: a service's migrations applied to DATABASE_URL, without the service."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner
from womctl.cli import app

SERVICES = ["referrals", "rewards", "outreach", "feedback"]


@pytest.mark.parametrize("service", SERVICES)
def test_migrate_brings_database_url_to_the_latest_revisions(service: str, tmp_path: Path) -> None:
    path = tmp_path / f"{service}.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    first = CliRunner().invoke(app, ["migrate", service], env=env)
    assert first.exit_code == 0, first.output
    with sqlite3.connect(path) as db:
        versions = {row[0] for row in db.execute("SELECT version_num FROM alembic_version")}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {version.split("_")[0] for version in versions} == {"chassis", service}
    assert {"inbox", "outbox"} <= tables
    assert f"{service}: sqlite+aiosqlite:///{path} is at" in first.stdout
    again = CliRunner().invoke(app, ["migrate", service], env=env)  # nothing left to do
    assert again.exit_code == 0 and again.stdout == first.stdout


def test_an_unknown_service_or_an_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    unknown = CliRunner().invoke(app, ["migrate", "billing"])
    assert unknown.exit_code == 2 and "unknown service 'billing'" in unknown.output
    url = "postgresql+asyncpg://wom:secret@127.0.0.1:1/wom_rewards"  # a closed port: nothing listens
    down = CliRunner().invoke(app, ["migrate", "rewards", "--database-url", url])
    assert down.exit_code == 1, down.output
    assert down.stderr.startswith(
        "cannot migrate rewards at postgresql+asyncpg://wom:***@127.0.0.1:1/wom_rewards"
    )
    assert "secret" not in down.output and "Traceback" not in down.output
