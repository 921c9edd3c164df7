"""SQLite on the event loop's thread: statements inline, another writer's lock waited for asleep."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from wom_chassis import Database
from wom_chassis import sqlite as sqlite_driver


@pytest.fixture
async def two_processes(tmp_path: Path) -> tuple[Database, Database]:
    """Two engines on one file, as two processes of one service would have."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    async with first.transaction() as session:
        await session.execute(text("CREATE TABLE t (n INTEGER)"))
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_statements_run_on_the_event_loops_thread(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    threads: list[int] = []
    async with db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.create_function("where_am_i", 0, lambda: threads.append(threading.get_ident()) or 1)
        assert (await conn.execute(text("SELECT where_am_i()"))).scalar() == 1
    await db.dispose()
    assert threads == [threading.get_ident()]


async def test_a_long_transaction_lets_the_loops_other_tasks_in(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0)  # a tick each turn of the loop: the ticks are what is measured

    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE t (n INTEGER)"))
        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        for n in range(3000):  # no statement waits for anything: nothing else would run
            await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        took = time.monotonic() - started
    ticking.cancel()
    await db.dispose()
    assert took > 0.05
    # a turn every 5 ms of statements; a quarter of that leaves room for a loaded machine, where
    # the ticker itself waits for the CPU (without the turns it gets none at all)
    assert len([tick for tick in ticks if tick < started + took]) >= took / 0.005 / 4


async def test_a_writer_waits_for_another_connections_lock_without_stopping_the_loop(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)  # paces the ticks counted while the insert waits

    ticking = asyncio.create_task(ticker())
    async with first.engine.connect() as holder:
        await holder.exec_driver_sql("BEGIN IMMEDIATE")  # the other process holds the write lock
        await holder.exec_driver_sql("INSERT INTO t VALUES (1)")
        waiting = asyncio.create_task(_insert(second, 2))
        await asyncio.sleep(0.5)  # time passes on purpose: the insert must still be waiting after it
        assert not waiting.done()  # still waiting for the lock...
        ticks_while_waiting = ticks
        await holder.exec_driver_sql("COMMIT")
    await asyncio.wait_for(waiting, 5)  # ...and done once it is free
    ticking.cancel()
    assert ticks_while_waiting >= 20  # the loop went on meanwhile: ~50 ticks in 0.5 s
    async with second.engine.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 2]


async def test_a_writer_gives_up_after_the_lock_wait(
    two_processes: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_processes
    monkeypatch.setattr(sqlite_driver, "LOCK_WAIT_SECONDS", 0.3)
    async with first.engine.connect() as holder:
        await holder.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"):
            await _insert(second, 2)
        await holder.exec_driver_sql("ROLLBACK")


async def _insert(db: Database, n: int) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
