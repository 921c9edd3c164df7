"""Rows written through the raw driver read back through SQLAlchemy exactly as SQLAlchemy would
have written them, inside the session's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Integer, MetaData, Numeric, String, bindparam, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import Database, ExactDecimal, UtcDateTime
from wom_chassis.driver import _statement, claim_new, fetch, upsert_rows, write_rows


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
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("1.25"))  # the database's numeric


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


# one statement of each kind a batch view reads with: lists bound to expanding IN, a value bound
# by name, constants of the statement itself (the LIMIT, the LIKE pattern, a literal list), an
# aggregate
_SUMS = (
    select(
        Entry.note,
        func.sum(Entry.amount).filter(Entry.at >= bindparam("since", type_=UtcDateTime())),
        func.sum(Entry.price),
    )
    .where(
        or_(
            Entry.id.in_(bindparam("ids", expanding=True)),
            Entry.note.in_(bindparam("notes", expanding=True)),
        ),
        ~Entry.id.startswith("e9"),
        Entry.id.not_in(("e4", "e5")),  # a literal list: constant, not bound at execution
    )
    .group_by(Entry.note)
    .order_by(Entry.note)
)
_LATEST = select(Entry.id, Entry.at, Entry.amount, Entry.flags).order_by(Entry.hits.desc()).limit(2)


async def test_fetch_reads_what_sqlalchemy_reads(entries: Database) -> None:
    async with entries.transaction() as session:
        await write_rows(
            session,
            TABLE,
            [
                row(n, note=f"n{n % 3}", hits=n, amount=Decimal(n) / 8, at=AT + timedelta(days=n))
                for n in range(12)
            ],
        )
    since = AT + timedelta(days=4)
    cases = [
        {"ids": ["e1"], "notes": [], "since": since},
        {"ids": ["e1", "e2", "e9", "nope"], "notes": ["n1"], "since": since},
        {"ids": [], "notes": ["n0", "n2"], "since": AT},
        {"ids": [], "notes": [], "since": AT},
        {"ids": ["e1"], "notes": [], "since": AT},  # a length seen before: its compiled form again
    ]
    async with entries.transaction() as session:
        for values in cases:
            through_core = [tuple(r) for r in await session.execute(_SUMS, values)]
            assert await fetch(session, _SUMS, values) == through_core
        latest = await fetch(session, _LATEST)
        assert latest == [tuple(r) for r in await session.execute(_LATEST)]
        assert [r[0] for r in latest] == ["e11", "e10"]
        assert latest[0][1] == AT + timedelta(days=11) and latest[0][2] == Decimal("1.375")
        assert latest[0][3] == ["a", "ü"]


async def test_fetch_sees_what_the_session_holds_unflushed(entries: Database) -> None:
    async with entries.transaction() as session:
        session.add(Entry(**row(20, hits=99)))
        assert (await fetch(session, _LATEST))[0][0] == "e20"


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
