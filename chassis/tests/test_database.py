"""Database helpers: exact decimals on every backend, upsert, units of work, jobs."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Integer, MetaData, String, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import Database, ExactDecimal, UnitOfWork, every, serialise, unit_of_work, upsert
from wom_chassis.database import lock_key
from wom_chassis.driver import DriverConnection, select_where_in
from wom_chassis.metrics import JOB_RUNS
from wom_chassis.tables import InboxRecord, OutboxRecord
from wom_contracts import CustomerErasedV1
from wom_testkit import bound, eventually


class Base(DeclarativeBase):
    metadata = MetaData()


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    note: Mapped[str] = mapped_column(String(32))
    hits: Mapped[int] = mapped_column(Integer, default=0)


@pytest.fixture
async def rows(db: Database) -> Database:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return db


async def test_exact_decimals_sum_exactly(rows: Database) -> None:
    async with rows.transaction() as session:
        for n in range(10):
            session.add(Row(id=f"r{n}", amount=Decimal("0.1"), note="x"))
        session.add(Row(id="neg", amount=Decimal("-12.3456"), note="x"))
    async with rows.session() as session:
        total = await session.scalar(select(func.sum(Row.amount)))
        assert total == Decimal("-11.3456")
        assert (await session.get(Row, "neg")).amount == Decimal("-12.3456")  # type: ignore[union-attr]


async def test_exact_decimals_refuse_more_places_than_they_keep(rows: Database) -> None:
    with pytest.raises(Exception, match="more than 4 decimal places"):
        async with rows.transaction() as session:
            session.add(Row(id="r", amount=Decimal("0.00001"), note="x"))


async def test_upsert_inserts_updates_or_keeps(rows: Database) -> None:
    async with rows.transaction() as session:
        await upsert(session, Row, {"id": "a", "amount": Decimal(1), "note": "first", "hits": 1}, key=["id"])
        await upsert(session, Row, {"id": "a", "amount": Decimal(2), "note": "second", "hits": 2}, key=["id"])
        await upsert(session, Row, {"id": "a", "amount": Decimal(3), "note": "third", "hits": 3},
                     key=["id"], update=["hits"])  # fmt: skip
        await upsert(session, Row, {"id": "a", "amount": Decimal(9), "note": "kept?", "hits": 9},
                     key=["id"], update=[])  # fmt: skip
    async with rows.session() as session:
        row = await session.get(Row, "a")
        assert row is not None and (row.amount, row.note, row.hits) == (Decimal(2), "second", 3)


async def test_buffered_upserts_are_written_at_flush_in_the_order_asked(rows: Database) -> None:
    async with rows.transaction() as session:
        work: UnitOfWork[None] = UnitOfWork(session, "wom/test", None)
        work.upsert(Row, {"id": "a", "amount": Decimal(1), "note": "first", "hits": 1}, key=["id"])
        work.upsert(Row, {"id": "b", "amount": Decimal(5), "note": "other", "hits": 5}, key=["id"])
        work.upsert(
            Row, {"id": "a", "amount": Decimal(3), "note": "third", "hits": 3}, key=["id"], update=["hits"]
        )
        work.upsert(Row, {"id": "a", "amount": Decimal(2), "note": "second", "hits": 2}, key=["id"])
        assert await session.get(Row, "a") is None  # nothing written before the flush
        await work.flush()
    async with rows.session() as session:
        a, b = await session.get(Row, "a"), await session.get(Row, "b")
        assert a is not None and (a.amount, a.note, a.hits) == (Decimal(2), "second", 2)
        assert b is not None and b.hits == 5


async def test_rows_are_selected_by_key_through_the_driver_converted_as_sqlalchemy_does(
    rows: Database,
) -> None:
    when = datetime(2026, 11, 1, 8, 30, 15, 250, tzinfo=UTC)
    async with rows.transaction() as session:
        session.add_all([Row(id=f"r{n}", amount=Decimal(f"{n}.0125"), note=f"n{n}") for n in range(3)])
        session.add(InboxRecord(event_id="e-1", event_type="t", source_topic="t", source_partition=0,
                                source_offset=7, processed_at=when))  # fmt: skip
        await session.flush()
        found = await select_where_in(session, Row, ("id", "amount", "hits"), "id", ["r2", "r0", "nope"])
        assert sorted(found) == [("r0", Decimal("0.0125"), 0), ("r2", Decimal("2.0125"), 0)]
        assert await select_where_in(session, Row, ("id",), "amount", [Decimal("1.0125")]) == [("r1",)]
        assert await select_where_in(session, InboxRecord, ("processed_at",), "event_id", ["e-1"]) == [
            (when,)
        ]
        assert await select_where_in(session, Row, ("id",), "id", []) == []


async def test_a_unit_of_work_commits_rows_and_events_together_or_not_at_all(db: Database) -> None:
    handed: list[list[str]] = []

    def hand_over(rows: list[dict[str, str]]) -> None:
        handed.append([row["event_id"] for row in rows])

    event = CustomerErasedV1.model_validate({"customer_id": "c-1", "requested_at": "2026-11-01T00:00:00Z"})
    with pytest.raises(RuntimeError):
        async with unit_of_work(db, source="wom/test", on_committed=hand_over) as work:
            work.emit(event)
            raise RuntimeError("the job failed half-way")
    async with unit_of_work(db, source="wom/test", on_committed=hand_over) as work:
        event_id = work.emit(event)
    async with db.session() as session:
        assert await session.scalar(select(func.count(OutboxRecord.id))) == 1
    assert handed == [[event_id]]  # only the committed rows reach the relay


def _service_on(db: Database, name: str = "test") -> Any:
    class FakeService:
        class settings:
            service_name = name

    FakeService.db = db  # type: ignore[attr-defined]
    return FakeService()


async def test_a_job_runs_on_schedule_and_survives_its_failures(db: Database) -> None:
    runs: list[int] = []
    four = asyncio.Event()

    async def flaky(_service: Any) -> None:
        runs.append(len(runs))
        if len(runs) == 4:
            four.set()
        if len(runs) == 2:
            raise ValueError("one bad run")

    task = asyncio.create_task(every(0.01, flaky, name="flaky")(_service_on(db)))
    await asyncio.wait_for(four.wait(), timeout=bound(5))
    task.cancel()
    assert runs[:4] == [0, 1, 2, 3]


async def test_a_job_runs_in_one_process_at_a_time_and_another_takes_over(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("one process per SQLite database: its jobs always hold their lock")
    other = Database(db.url.render_as_string(hide_password=False))  # another process's pool
    inside, release = asyncio.Event(), asyncio.Event()
    calls = {"first": 0, "second": 0}

    async def first(_service: Any) -> None:
        calls["first"] += 1
        inside.set()
        await release.wait()

    async def second(_service: Any) -> None:
        calls["second"] += 1

    elsewhere = JOB_RUNS.labels("test", "shared", "elsewhere")
    skipped_before = elsewhere._value.get()
    holder = asyncio.create_task(every(0.01, first, name="shared")(_service_on(db)))
    await asyncio.wait_for(inside.wait(), timeout=bound(10))
    waiting = asyncio.create_task(every(0.01, second, name="shared")(_service_on(other)))
    await eventually(lambda: elsewhere._value.get() >= skipped_before + 3, timeout=bound(10), every=0.01)
    assert calls["second"] == 0  # held elsewhere: skipped, not run beside it
    holder.cancel()  # the holder goes (its lock with it): the other one runs the job
    with suppress(asyncio.CancelledError):
        await holder
    await eventually(lambda: calls["second"] > 0, timeout=bound(10), every=0.01)
    waiting.cancel()
    await other.dispose()


async def test_serialised_transactions_wait_for_each_other_only_on_a_shared_name(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite's writers take turns anyway: serialise has nothing to do")
    started = asyncio.Event()
    order: list[str] = []

    async def second(names: list[str], label: str) -> None:
        async with db.transaction() as session:
            await serialise(session, names)
            order.append(label)

    async with db.transaction() as session:
        await serialise(session, ["customer-a", b"customer-b"])
        started.set()
        apart = asyncio.create_task(second(["customer-c"], "apart"))
        shared = asyncio.create_task(second(["customer-c", "customer-b"], "shared"))
        await asyncio.wait_for(apart, timeout=bound(10))  # no name in common: it did not wait

        async def waiting_for_the_lock() -> bool:
            async with db.session() as reader:
                waits = await reader.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                )
            return bool(waits)

        await eventually(waiting_for_the_lock, timeout=bound(10), every=0.01)
        assert not shared.done()
        order.append("first")
    await asyncio.wait_for(shared, timeout=bound(10))
    assert order == ["apart", "first", "shared"]
    assert lock_key("customer-b") == lock_key(b"customer-b")  # a record's key and its name


class Other(Base):
    __tablename__ = "others"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)


async def test_upserts_alternating_two_tables_are_one_statement_each_in_order(
    rows: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    original = DriverConnection.executemany

    async def counted(self: DriverConnection, sql: str, parameters: list[tuple[Any, ...]]) -> None:
        statements.append(sql.split("(")[0])
        await original(self, sql, parameters)

    monkeypatch.setattr(DriverConnection, "executemany", counted)
    async with rows.transaction() as session:
        work: UnitOfWork[None] = UnitOfWork(session, "wom/test", None)
        for n in range(5):  # a contact, then a message, as a handler writes them
            work.upsert(Row, {"id": "a", "amount": Decimal(n), "note": f"n{n}", "hits": n}, key=["id"])
            work.upsert(Other, {"id": f"o{n}", "hits": n}, key=["id"])
        await work.flush()
    assert statements == ["INSERT INTO rows ", "INSERT INTO others "]
    async with rows.session() as session:
        a = await session.get(Row, "a")
        assert a is not None and a.note == "n4"  # the last of the table's upserts wins
        assert await session.scalar(select(func.count()).select_from(Other)) == 5
