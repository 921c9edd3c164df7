"""Reading a service's whole database as an auditor would: every row of every table, found by
SQLAlchemy reflection (nothing hard-coded, so a new table is read too), and for SQLite the raw
bytes of the database file with its `-wal` and `-shm` files, where deleted rows can linger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["database_files", "file_occurrences", "reflected", "row_occurrences", "table_rows"]

Rows = dict[str, list[tuple[Any, ...]]]


async def table_rows(database: str | AsyncEngine, metadata: MetaData | None = None) -> Rows:
    """Every row of every table of a database (its URL, or an engine to borrow), by table name;
    the tables are found by reflection unless `metadata` already holds them."""
    engine = create_async_engine(database) if isinstance(database, str) else database
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_read_all, metadata)
    finally:
        if isinstance(database, str):
            await engine.dispose()


async def reflected(engine: AsyncEngine) -> MetaData:
    """The tables of a database as they are now, for reading them again and again."""
    async with engine.connect() as conn:
        return await conn.run_sync(_reflect)


def _reflect(conn: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(conn)
    return metadata


def _read_all(conn: Connection, metadata: MetaData | None) -> Rows:
    tables = (metadata or _reflect(conn)).tables
    return {name: [tuple(row) for row in conn.execute(select(table))] for name, table in tables.items()}


def _as_text(value: Any) -> str | bytes:
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return json.dumps(value, ensure_ascii=False, default=str)  # JSON columns come back parsed


def row_occurrences(rows: Rows, needles: list[str], *, ignore_case: bool = False) -> list[str]:
    """Where any of `needles` occurs in `rows`, as `table: row …` lines (every column, any type;
    `ignore_case`: a name in capitals, as in a referral code, is found too)."""

    def fold(value: Any) -> Any:
        return value.lower() if ignore_case else value

    wanted = [fold(n) for n in needles]
    found = []
    for table, found_rows in rows.items():
        for row in found_rows:
            for value in row:
                text = fold(_as_text(value))
                if isinstance(text, bytes):
                    hits = [n for n in wanted if n.encode() in text]
                else:
                    hits = [n for n in wanted if n in text]
                if hits:
                    found.append(f"{table}: {hits} in {row!r:.300}")
    return found


def database_files(url: str) -> list[Path]:
    """The files of a SQLite database that exist now: the database, its WAL and shared memory."""
    database = make_url(url).database
    assert database, url
    return [path for suffix in ("", "-wal", "-shm", "-journal") if (path := Path(database + suffix)).exists()]


def file_occurrences(files: list[Path], needles: list[str]) -> list[str]:
    """Which of `files` hold any of `needles` (UTF-8, as SQLite stores text), with the offset."""
    found = []
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            offset = data.find(needle.encode())
            if offset >= 0:
                found.append(f"{path.name}: {needle!r} at byte {offset} of {len(data)}")
    return found
