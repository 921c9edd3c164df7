"""Databases for tests: SQLite always, PostgreSQL where one is configured, each emptied first."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from wom_chassis.database import Database

from wom_testkit.sources import POSTGRES_ENV, chosen_sources

__all__ = [
    "POSTGRES_ENV",
    "database_backends",
    "empty_database_url",
    "fresh_database",
    "sibling_database_url",
]

_SQLITE_FILES = itertools.count()


def database_backends() -> list[Any]:
    """pytest params: SQLite always, PostgreSQL at WOM_TEST_POSTGRES_URL (the root conftest sets it
    to the run's source, wom_testkit.sources), else skipped saying why there is none."""
    postgres = os.environ.get(POSTGRES_ENV)
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            postgres or "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(
                not postgres,
                reason="" if postgres else f"no PostgreSQL for the tests: {chosen_sources().postgres.why}",
            ),
        ),
    ]


async def empty_database_url(backend: str, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file (another at each call, so that two services
    of one test never share one), or a wiped PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / f'test-{next(_SQLITE_FILES)}.db'}"
    engine = create_async_engine(backend)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return backend


async def fresh_database(backend: str, tmp_path: Path, migrations: Sequence[Path]) -> Database:
    """An empty database with the chassis' and the given migrations applied."""
    db = Database(await empty_database_url(backend, tmp_path), migrations)
    await db.migrate()
    return db


async def sibling_database_url(base: str, name: str) -> str:
    """The URL of the PostgreSQL database `<base's database>_<name>` beside `base`, created when
    missing (the role needs CREATEDB): a test that runs services as processes gives each its own
    database, named after the run's, so that two runs on one server (each with its own
    WOM_TEST_POSTGRES_URL) never empty each other's, nor the databases `make up` uses."""
    url = make_url(base)
    database = f"{url.database}_{name}"
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            present = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            )
            if not present:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{database}"'))
                except DBAPIError as error:  # another run created it meanwhile
                    if "already exists" not in str(error):
                        raise
    finally:
        await engine.dispose()
    return url.set(database=database).render_as_string(hide_password=False)
