"""Rows written through the raw database driver: the consume path's writes, one statement per
table per batch; and a batch view's reads, one statement per table (`select_where_in`, or any
Core `select` through `fetch`).

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

from sqlalchemy import CompoundSelect, Select, Table, bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import sqltypes

__all__ = [
    "RowStatement",
    "claim_new",
    "driver_connection",
    "fetch",
    "select_where_in",
    "upsert_rows",
    "write_rows",
]

_MAX_PARAMETERS = 30_000
"""Bound parameters of one statement: below SQLite's 32,766 and asyncpg's 32,767."""

Processor = Callable[[Any], Any] | None
AnySelect = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
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
def _selection(table: Table, columns: tuple[str, ...], key: str) -> AnySelect:
    return select(*(table.c[name] for name in columns)).where(
        table.c[key].in_(bindparam("keys", expanding=True))
    )


async def select_where_in(
    session: AsyncSession, model: Any, columns: Sequence[str], key: str, values: Iterable[Any]
) -> list[tuple[Any, ...]]:
    """The `columns` of the rows of `model`'s table (a mapped class or a table) whose `key` is
    one of `values`, converted as SQLAlchemy would convert them: one `SELECT … WHERE key IN (…)`
    per 30,000 values through the raw driver (`fetch`), inside the session's transaction (a
    batch's view, read in one statement per table)."""
    keys = list(values)
    if not keys:
        return []
    table = getattr(model, "__table__", model)
    assert isinstance(table, Table), f"{model!r} is neither a mapped class nor a table"
    statement = _selection(table, tuple(columns), key)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), _MAX_PARAMETERS):
        rows.extend(await fetch(session, statement, {"keys": keys[start : start + _MAX_PARAMETERS]}))
    return rows


_PG_NUMERIC, _PG_FLOAT8 = 1700, 701  # type oids of PostgreSQL's numeric and double precision


def _result_processor(column_type: Any, dialect: Dialect) -> Processor:
    """SQLAlchemy's conversion of a result column of `column_type`. Some depend on the type the
    database reports (asyncpg's numerics: a Decimal or a float as returned, or converted); here,
    without a cursor's description, it is the type the models create the column with."""
    impl = column_type.dialect_impl(dialect)
    reported = None
    if dialect.name == "postgresql" and isinstance(impl, sqltypes.NumericCommon):
        reported = _PG_FLOAT8 if isinstance(impl, sqltypes.Float) else _PG_NUMERIC
    return impl.result_processor(dialect, reported)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Expanded:
    """A Core statement compiled for one dialect and one length of each expanding parameter:
    its SQL, where each positional parameter comes from, and the conversions in and out."""

    sql: str
    sources: tuple[tuple[str, int | None, Any], ...]  # (name, index into a list or None, constant)
    processors: tuple[Processor, ...]
    results: tuple[Processor, ...]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        out = []
        for (name, index, constant), processor in zip(self.sources, self.processors, strict=True):
            value = values[name][index] if index is not None else values.get(name, constant)
            out.append(value if value is None or processor is None else processor(value))
        return out


_EXPANDED: dict[tuple[int, str, tuple[tuple[str, int], ...]], tuple[AnySelect, _Expanded]] = {}
_EXPANDED_LIMIT = 4096  # statements × lengths kept; a batch's lengths are bounded by its size


def _expand(dialect: Dialect, statement: AnySelect, values: dict[str, Any]) -> _Expanded:
    lengths = tuple((name, len(value) if isinstance(value, list) else -1) for name, value in values.items())
    key = (id(statement), dialect.name, lengths)
    found = _EXPANDED.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    compiled: Any = statement.compile(dialect=dialect)
    assert compiled.positional, f"{dialect.name} binds by name: the raw driver's reads need positions"
    state = compiled.construct_expanded_state(values, escape_names=False)
    origin: dict[str, tuple[str, int]] = {  # a list bound at execution (a literal one is constant)
        expanded: (name, index)
        for name, names in state.parameter_expansion.items()
        if name in values
        for index, expanded in enumerate(names)
    }
    sources = tuple(
        (*origin[name], None) if name in origin else (name, None, state.parameters.get(name))
        for name in state.positiontup
    )
    # each parameter's conversion, by its type (a literal list's items share its bind's)
    expansion = state.parameter_expansion
    expanded_from = {expanded: name for name, names in expansion.items() for expanded in names}
    binds = compiled.binds
    processors = tuple(
        _processor(binds[expanded_from.get(name, name)].type, dialect) for name, _, _ in sources
    )
    results = tuple(_result_processor(column.type, dialect) for column in statement.selected_columns)
    expanded = _Expanded(state.statement, sources, processors, results)
    if len(_EXPANDED) >= _EXPANDED_LIMIT:
        _EXPANDED.clear()
    _EXPANDED[key] = (statement, expanded)
    return expanded


async def fetch(
    session: AsyncSession, statement: AnySelect, values: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """The rows of a Core `select` (built once, its per-batch values bound by name, lists to
    expanding parameters), run through the raw driver inside the session's transaction and
    converted as SQLAlchemy would convert them: a batch view's read without the per-statement
    work of the ORM and Core (compiling the expanded `IN`, the execution context, result
    objects), some 100–150 µs a statement. The statement is compiled once per dialect and length
    of each list; an expanding list is never longer than 30,000 values here. Changes the ORM
    session holds are flushed first, as the session's own autoflush would."""
    values = {} if values is None else values
    if session.new or session.dirty or session.deleted:
        await session.flush()
    driver = await driver_connection(session)
    expanded = _expand(driver.dialect, statement, values)
    rows = await driver.fetch_rows(expanded.sql, expanded.parameters(values))
    results = expanded.results
    if not any(results):
        return rows
    pairs = tuple(enumerate(results))
    return [
        tuple(value if (value := row[i]) is None or p is None else p(value) for i, p in pairs) for row in rows
    ]
