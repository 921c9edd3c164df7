"""Async SQLAlchemy engine and sessions, and Alembic migrations per service."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from wom_chassis import sqlite as sqlite_driver
from wom_chassis.logs import get_logger

__all__ = [
    "MIGRATIONS_DIR",
    "Database",
    "lock_key",
    "scrub_after_commit",
    "serialise",
    "upsert",
    "upsert_statement",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WAL_TRUNCATE_TRIES = 100
_MIGRATIONS_LOCK = 0x776F6D5F6D696772  # "wom_migr": one lock per database, whichever service
_SCRUB = "wom.scrub_after_commit"
log = get_logger(__name__)


def scrub_after_commit(session: AsyncSession) -> None:
    """Ask that what this transaction deletes leaves no trace in the database's files once it
    commits (an erasure). On SQLite the write-ahead log still holds earlier versions of the pages
    until it is checkpointed and truncated; PostgreSQL's dead rows go with (auto)vacuum."""
    session.info[_SCRUB] = True


def lock_key(name: str | bytes) -> int:
    """The PostgreSQL advisory lock key of a name: 64 bits of its hash, the same in every
    process (Python's own `hash` is salted per process)."""
    raw = name.encode() if isinstance(name, str) else name
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


_LOCK_EACH = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")


async def serialise(session: AsyncSession, names: Iterable[str | bytes]) -> None:
    """Make the rest of `session`'s transaction wait for, and then exclude, every other
    transaction that named any of `names`, until it ends: on PostgreSQL, where several
    processes write, a transaction-level advisory lock per name, taken in one statement in key
    order (two transactions that take theirs in the same call never wait for each other; a
    transaction that calls twice must name a separate kind of thing each time, in the same
    order everywhere). On SQLite writers take turns anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({lock_key(name) for name in names})
    if keys:
        await session.execute(_LOCK_EACH, {"keys": keys})


class Database:
    """One service's database: an engine, a session factory and its migrations."""

    def __init__(self, url: str, migration_dirs: Sequence[Path] = ()) -> None:
        self.url = make_url(url)
        self.migration_dirs = [MIGRATIONS_DIR / "versions", *migration_dirs]
        # hide_parameters: a failed statement's error (logged, and a dead letter's reason) names
        # the statement, never the values bound to it (emails, names, addresses)
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite, "hide_parameters": True}
        if self.is_sqlite:
            database = self.url.database or ":memory:"
            if database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            options["async_creator"] = sqlite_driver.connector(database)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer: asyncio.Lock | AbstractAsyncContextManager[None] = (
            asyncio.Lock() if self.is_sqlite else nullcontext()
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded default, SQLite."""
        return self.url.get_backend_name() == "sqlite"

    def session(self) -> AsyncSession:
        """A new session for reading; write through `transaction()`."""
        return self.sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed at the end of the block (rolled back on error).

        On SQLite the writers of this process take turns: SQLite admits one writer at a time
        and makes a blocked one sleep and poll, which costs far more than waiting in line here.
        """
        async with self._writer:
            async with self.sessions() as session, session.begin():
                yield session
            if session.info.get(_SCRUB) and self.is_sqlite:
                await self._truncate_wal()

    async def _truncate_wal(self) -> None:
        # secure_delete has zeroed what was deleted in the pages the transaction wrote; the log
        # still holds the pages as they were before. Copy the log into the database and empty it.
        # A reader in another process holds it up: try again for a while, asleep on the loop.
        async with self.engine.connect() as conn:
            for _ in range(WAL_TRUNCATE_TRIES):
                busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()[0]
                if not busy:
                    return
                await asyncio.sleep(0.05)
        # the next scrub or checkpoint clears it
        log.warning("sqlite_wal_not_truncated_after_erasure", database=self.url.database)

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, revision: str = "heads") -> None:
        """Bring the schema to `revision`: the chassis tables and the service's own. On
        PostgreSQL processes that start together migrate in turn (an advisory lock for the
        transaction): the first migrates, the others find the schema current."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATIONS_LOCK})
            await conn.run_sync(self._run_alembic, "upgrade", revision)

    @asynccontextmanager
    async def holding(self, name: str) -> AsyncIterator[bool]:
        """Whether this process holds the lock `name` for the block, tried and not waited for:
        on PostgreSQL a session advisory lock on a connection of its own, released at the end
        of the block or when the process dies; on SQLite (one process) always held."""
        if self.is_sqlite:
            yield True
            return
        key = lock_key(name)
        async with self.engine.connect() as conn:
            tried = await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            held = bool(tried.scalar())
            try:
                yield held
            finally:
                if held:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})

    async def downgrade(self, revision: str = "base") -> None:
        """Undo migrations down to `revision` (tests and operators only)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self._run_alembic, "downgrade", revision)

    def alembic_config(self, connection: Connection | None = None) -> Config:
        """The Alembic configuration of this database, for the `alembic` API or CLI."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("version_locations", " ".join(str(d) for d in self.migration_dirs))
        config.set_main_option("path_separator", "space")
        config.attributes["connection"] = connection
        return config

    def _run_alembic(self, connection: Connection, verb: str, revision: str) -> None:
        getattr(command, verb)(self.alembic_config(connection), revision)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (health, API) work while the consumer writes. No busy timeout: a
    # statement that finds another process's write lock waits for it asleep on the event loop
    # (`wom_chassis.sqlite`), not in SQLite's busy handler, which would stop the loop. secure_delete
    # overwrites deleted rows with zeros: without it an erased customer's email stays in the
    # file's free space until the page happens to be reused.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def upsert(
    session: AsyncSession,
    model: Any,
    values: dict[str, Any],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert a row, or on a conflict on `key` update the `update` columns (all others by
    default; none: keep the existing row). One statement on SQLite and PostgreSQL alike."""
    columns = [c for c in values if c not in key] if update is None else list(update)
    dialect = session.get_bind().dialect.name
    statement = upsert_statement(dialect, model, tuple(values), tuple(key), tuple(columns))
    await session.execute(statement, values)


@functools.cache
def upsert_statement(
    dialect: str, model: Any, columns: tuple[str, ...], key: tuple[str, ...], update: tuple[str, ...]
) -> Any:
    """The insert-or-update statement of one shape (built once; values bound at execution)."""
    # built once per shape, values bound at execution: building an ON CONFLICT statement (its
    # `excluded` alias) costs more than running it
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(model)
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    excluded = statement.excluded
    return statement.on_conflict_do_update(index_elements=list(key), set_={c: excluded[c] for c in update})
