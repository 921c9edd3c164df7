"""Rows written through the raw driver read back through SQLAlchemy exactly as SQLAlchemy would
have written them, inside the session's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Integer, MetaData, String, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import Database, ExactDecimal, UtcDateTime
from wom_chassis.driver import _statement, claim_new, upsert_rows, write_rows


class Base(DeclarativeBase):
    metadata = MetaData()


class Entry(Base):
    __tablename__ = "entries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flags: Mapped[list[str]] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    hits: Mapped[int] = mapped_column(Integer, default=lambda: 7)


TABLE = Entry.__table__
AT = datetime(2026, 11, 20, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=3)))


@pytest.fixture
async def entries(db: Database) -> Database:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return db


def row(n: int, **values: Any) -> dict[str, Any]:
    return {"id": f"e{n}", "amount": Decimal("12.3456"), "at": AT, "note": None, "flags": ["a", "ü"]} | values


async def test_rows_read_back_as_sqlalchemy_wrote_them(entries: Database) -> None:
    async with entries.transaction() as session:
        await write_rows(session, TABLE, [row(1), row(2, note="two", done=True, hits=3)])
        await session.execute(insert(Entry), [row(3)])  # the same row through SQLAlchemy
    async with entries.session() as session:
        found = {e.id: e for e in await session.scalars(select(Entry))}
    for entry in found.values():
        assert entry.amount == Decimal("12.3456")
        assert entry.at == AT and entry.at.tzinfo is not None  # stored in UTC, read back aware
        assert entry.flags == ["a", "ü"]
    assert (found["e1"].note, found["e1"].done, found["e1"].hits) == (None, False, 7)  # Python defaults
    assert (found["e2"].note, found["e2"].done, found["e2"].hits) == ("two", True, 3)
    assert (found["e1"].done, found["e1"].hits) == (found["e3"].done, found["e3"].hits)
    async with entries.session() as session:  # exact sums: scaled integers, as ExactDecimal writes
        assert await session.scalar(select(func.sum(Entry.amount))) == Decimal("37.0368")


async def test_the_writes_belong_to_the_sessions_transaction(entries: Database) -> None:
    with pytest.raises(RuntimeError):
        async with entries.transaction() as session:
            await write_rows(session, TABLE, [row(1)])  # the first statement of the transaction
            await claim_new(session, TABLE, [row(2)], key="id")
            raise RuntimeError("rolled back")
    async with entries.session() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 0


async def test_claim_returns_only_the_new_keys_also_beyond_one_statement(entries: Database) -> None:
    async with entries.transaction() as session:
        await write_rows(session, TABLE, [row(n) for n in range(0, 10_000, 7)])
    many = [row(n) for n in range(10_000)]  # 60,000 parameters: three statements
    async with entries.transaction() as session:
        claimed = await claim_new(session, TABLE, many, key="id")
    assert claimed == {f"e{n}" for n in range(10_000) if n % 7}
    async with entries.session() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 10_000


async def test_upserts_update_the_named_columns_or_keep_the_row(entries: Database) -> None:
    async with entries.transaction() as session:
        await write_rows(session, TABLE, [row(1, note="first", hits=1)])
        await upsert_rows(session, TABLE, [row(1, note="second", hits=2)], key=["id"], update=["hits"])
        await upsert_rows(session, TABLE, [row(1, hits=9), row(2, hits=5)], key=["id"], update=[])
    async with entries.session() as session:
        first, second = await session.get(Entry, "e1"), await session.get(Entry, "e2")
    assert first is not None and (first.note, first.hits) == ("first", 2)
    assert second is not None and second.hits == 5


async def test_a_failed_statement_does_not_show_the_values_bound_to_it(entries: Database) -> None:
    secret = "ana@example.com"
    with pytest.raises(IntegrityError) as failure:
        async with entries.transaction() as session:
            await session.execute(insert(Entry), [row(1, note=secret), row(1, note=secret)])
    assert "hidden due to hide_parameters" in str(failure.value)
    assert secret not in str(failure.value)


async def test_utc_is_what_is_stored(entries: Database) -> None:
    async with entries.transaction() as session:
        await write_rows(session, TABLE, [row(1)])
    async with entries.session() as session:
        (stored,) = (await session.scalars(select(Entry.at))).all()
    assert stored.utcoffset() == timedelta(0) and stored == AT.astimezone(UTC)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.asyncpg.dialect()], ids=["sqlite", "pg"])
def test_the_fused_time_conversion_equals_sqlalchemys(dialect: Any) -> None:
    column = UtcDateTime()
    through_core = column.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)
    fused = column.driver_processor(dialect)
    for hours in (-11, -5, 0, 3, 14):
        for moment in (AT, AT.replace(microsecond=0), datetime(1, 1, 2, tzinfo=UTC), datetime.now(UTC)):
            moment = moment.astimezone(timezone(timedelta(hours=hours)))
            assert fused(moment) == through_core(moment)
    with pytest.raises(ValueError, match="naive"):
        fused(datetime(2026, 1, 1))


def test_the_driver_writes_times_with_the_fused_conversion() -> None:
    statement = _statement(sqlite.dialect(), TABLE, ("id", "at"), None, ())
    fused = statement.processors[statement.columns.index("at")]
    assert fused is not None and fused.__name__ == "_sqlite_text"
