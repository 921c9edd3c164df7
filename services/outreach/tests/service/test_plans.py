"""What SQLite's planner makes of outreach's statements that run once per event, at the volume
of a backlog: each must read the rows it concerns through an index, not scan a status."""

from __future__ import annotations

from pathlib import Path

from outreach.app import MIGRATIONS
from outreach.handlers import release_waiting
from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from wom_chassis import Database


async def test_a_sign_up_releases_its_own_waiting_messages_through_the_customer_index(tmp_path: Path) -> None:
    """A sign-up releases the messages that waited for its contact; with the customer index on
    `customer_id` alone SQLite chose the due index for `status = 'waiting'` and walked every
    waiting message of everyone (48 ms at 15,000 of them, most of outreach's time in the loop)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}", [MIGRATIONS])
    await db.migrate()
    async with db.transaction() as session:
        await session.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2999) "
                "INSERT INTO messages (id, customer_id, kind, channel, cause_event_id, status, data, "
                "attempts, next_attempt_at, created_at) SELECT 'm' || i, 'c' || (i % 1500), 'welcome', "
                "'email', 'e' || i, CASE WHEN i % 3 = 0 THEN 'queued' ELSE 'waiting' END, '{}', 0, "
                "'2026-12-07 10:00:00.000000', '2026-12-07 10:00:00.000000' FROM n"
            )
        )
        await session.execute(text("ANALYZE"))
    statement = str(
        release_waiting("c-7").compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    )
    async with db.session() as session:
        plan = " ".join(row[-1] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
    await db.dispose()
    assert plan == "SEARCH messages USING INDEX ix_messages_customer (customer_id=? AND status=?)", plan
