"""Rows written through the raw database driver: the consume path's writes, one statement per
table per batch; and a batch view's reads by key, one statement per table (`select_where_in`).

SQLAlchemy owns the models, the migrations, the APIs and the jobs. On the consume path its
per-row work (compiling, `construct_params`, a processor call per row and column inside its
execution context) cost more than the database did: some 85 µs an event in rewards. Here the
statement of each table and column set is built once, the columns' own bind processors (the
same `UtcDateTime` and `ExactDecimal` conversions SQLAlchemy applies) are looked up once, and
rows go to the driver as tuples: `executemany` of sqlite3 (through aiosqlite, on the loop's
thread) or asyncpg, inside the session's transaction, on its connection.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["RowStatement", "claim_new", "driver_connection", "select_where_in", "upsert_rows", "write_rows"]

_MAX_PARAMETERS = 30_000
"""Bound parameters of one statement: below SQLite's 32,766 and asyncpg's 32,767."""

Processor = Callable[[Any], Any] | None
_DRIVER = "wom.driver_connection"


@dataclass(frozen=True)
class RowStatement:
    """One table's insert (or upsert) of one set of columns, with each column's conversion and
    the Python-side defaults of the columns a row leaves out."""

    sql: str
    columns: tuple[str, ...]
    processors: tuple[Processor, ...]
    defaults: tuple[tuple[str, Any], ...]

    def parameters(self, rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """`rows` as the driver's parameter tuples, converted as SQLAlchemy would convert them."""
        columns, processors, defaults = self.columns, self.processors, self.defaults
        if defaults:
            rows = [_with_defaults(row, defaults) for row in rows]
        if not any(processors):
            return [tuple(row[c] for c in columns) for row in rows]
        pairs = tuple(zip(columns, processors, strict=True))
        return [
            tuple(value if (value := row[c]) is None or p is None else p(value) for c, p in pairs)
            for row in rows
        ]


def _with_defaults(row: dict[str, Any], defaults: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    missing = {name: default() if callable(default) else default for name, default in defaults}
    return {**missing, **row}


def _placeholders(dialect: Dialect, count: int, start: int = 0) -> str:
    if dialect.name == "postgresql":
        return ", ".join(f"${start + i + 1}" for i in range(count))
    return ", ".join("?" * count)


def _python_defaults(table: Table, columns: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    defaults = []
    for column in table.columns:
        default = column.default
        if column.name in columns or default is None or not hasattr(default, "arg"):
            continue
        if getattr(default, "is_callable", False):
            defaults.append((column.name, functools.partial(default.arg, None)))
        elif getattr(default, "is_scalar", False):
            defaults.append((column.name, default.arg))
    return tuple(defaults)


@functools.cache
def _statement(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    conflict_key: tuple[str, ...] | None,
    update: tuple[str, ...],
) -> RowStatement:
    quote = dialect.identifier_preparer.quote
    defaults = _python_defaults(table, columns)
    names = (*columns, *(name for name, _ in defaults))
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) "
        f"VALUES ({_placeholders(dialect, len(names))})"
    )
    if conflict_key is not None:
        target = ", ".join(quote(c) for c in conflict_key)
        if update:
            assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    processors = tuple(_processor(table.c[name].type, dialect) for name in names)
    return RowStatement(sql, names, processors, defaults)


def _processor(column_type: Any, dialect: Dialect) -> Processor:
    # a column type of ours may offer one fused conversion for the driver (`driver_processor`);
    # any other takes SQLAlchemy's own bind processor, the same conversion as through Core
    fused = getattr(column_type, "driver_processor", None)
    if fused is not None:
        return fused(dialect)  # type: ignore[no-any-return]
    return column_type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


class DriverConnection:
    """The driver connection under a session's transaction: sqlite3 through aiosqlite, or
    asyncpg. Statements run inside the session's transaction."""

    def __init__(self, dialect: Dialect, connection: Any, transaction: Any) -> None:
        self.dialect = dialect
        self.connection = connection
        self.transaction = transaction

    async def executemany(self, sql: str, parameters: list[tuple[Any, ...]]) -> None:
        """Run `sql` once for each tuple of `parameters`."""
        if not parameters:
            return
        if self.dialect.name == "postgresql":
            await self.connection.executemany(sql, parameters)
        else:
            cursor = await self.connection.executemany(sql, parameters)
            await cursor.close()

    async def fetch_rows(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows `sql` returns, as tuples."""
        if self.dialect.name == "postgresql":
            return [tuple(row) for row in await self.connection.fetch(sql, *parameters)]
        cursor = await self.connection.execute(sql, parameters)
        try:
            return list(await cursor.fetchall())
        finally:
            await cursor.close()

    async def fetch_column(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """The first column of each row `sql` returns."""
        if self.dialect.name == "postgresql":
            return [row[0] for row in await self.connection.fetch(sql, *parameters)]
        cursor = await self.connection.execute(sql, parameters)
        try:
            return [row[0] for row in await cursor.fetchall()]
        finally:
            await cursor.close()


async def driver_connection(session: AsyncSession) -> DriverConnection:
    """The raw driver connection of `session`'s transaction (begun if it has not yet run a
    statement: asyncpg starts SQLAlchemy's transaction only with the first statement). Looked up
    once per transaction: each lookup through the async session is a greenlet round trip."""
    found = session.info.get(_DRIVER)
    if found is not None and found.transaction is session.get_transaction():
        return found  # type: ignore[no-any-return]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    dialect = connection.dialect
    if dialect.name == "postgresql" and not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    wrapped = DriverConnection(dialect, driver, session.get_transaction())
    session.info[_DRIVER] = wrapped
    return wrapped


def _shapes(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(row), []).append(row)
    return shapes


async def write_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` into `table`: one `executemany` per set of columns, in order within each."""
    if not rows:
        return
    driver = await driver_connection(session)
    for columns, group in _shapes(rows).items():
        statement = _statement(driver.dialect, table, columns, None, ())
        await driver.executemany(statement.sql, statement.parameters(group))


async def upsert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert `rows`, or on a conflict on `key` update the `update` columns (none: keep the row),
    in the order given; rows of one set of columns in one `executemany`."""
    if not rows:
        return
    driver = await driver_connection(session)
    for columns, group in _shapes(rows).items():
        statement = _statement(driver.dialect, table, columns, tuple(key), tuple(update))
        await driver.executemany(statement.sql, statement.parameters(group))


@functools.cache
def _claim_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], key: str, count: int) -> str:
    quote = dialect.identifier_preparer.quote
    width = len(columns)
    values = ", ".join(f"({_placeholders(dialect, width, start=i * width)})" for i in range(count))
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES {values} "
        f"ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}"
    )


async def claim_new(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], *, key: str
) -> set[Any]:
    """Insert `rows` where no row with their `key` exists yet; return the keys that were new.

    One `INSERT … ON CONFLICT DO NOTHING RETURNING` (per 30,000 parameters): the inbox's claim
    of a batch's event ids, whose result is the set of events not processed before."""
    if not rows:
        return set()
    driver = await driver_connection(session)
    columns = tuple(rows[0])
    statement = _statement(driver.dialect, table, columns, None, ())
    parameters = statement.parameters(rows)
    per_statement = max(1, _MAX_PARAMETERS // len(statement.columns))
    claimed: set[Any] = set()
    for start in range(0, len(parameters), per_statement):
        chunk = parameters[start : start + per_statement]
        sql = _claim_sql(driver.dialect, table, statement.columns, key, len(chunk))
        claimed.update(await driver.fetch_column(sql, [value for row in chunk for value in row]))
    return claimed


@functools.cache
def _selection(
    dialect: Dialect, table: Table, columns: tuple[str, ...], key: str
) -> tuple[str, tuple[Processor, ...], Processor]:
    quote = dialect.identifier_preparer.quote
    sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} WHERE {quote(key)} IN "
    results = tuple(
        table.c[name].type.dialect_impl(dialect).result_processor(dialect, None) for name in columns
    )
    return sql, results, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)


async def select_where_in(
    session: AsyncSession, model: Any, columns: Sequence[str], key: str, values: Iterable[Any]
) -> list[tuple[Any, ...]]:
    """The `columns` of the rows of `model`'s table (a mapped class or a table) whose `key` is
    one of `values`, converted as SQLAlchemy would convert them: one `SELECT … WHERE key IN (…)`
    per 30,000 values through the raw driver, inside the session's transaction (a batch's view,
    read in one statement per table). ORM changes the session has not flushed are not seen."""
    keys = list(values)
    if not keys:
        return []
    table = getattr(model, "__table__", model)
    assert isinstance(table, Table), f"{model!r} is neither a mapped class nor a table"
    driver = await driver_connection(session)
    sql, results, bind = _selection(driver.dialect, table, tuple(columns), key)
    if bind is not None:
        keys = [None if value is None else bind(value) for value in keys]
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), _MAX_PARAMETERS):
        chunk = keys[start : start + _MAX_PARAMETERS]
        rows.extend(await driver.fetch_rows(f"{sql}({_placeholders(driver.dialect, len(chunk))})", chunk))
    if not any(results):
        return rows
    pairs = tuple(enumerate(results))
    return [
        tuple(value if (value := row[i]) is None or p is None else p(value) for i, p in pairs) for row in rows
    ]
