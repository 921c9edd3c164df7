"""An erasure on SQLite leaves no copy of the deleted data in the database's files: deleted
content is overwritten (`secure_delete`) and the write-ahead log, which keeps earlier versions of
the pages it wrote, is copied back and emptied when the erasure commits. An ordinary delete
leaves the value in the log (that is what the scrub is for)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from wom_chassis.database import Database, scrub_after_commit
from wom_testkit.scan import database_files, file_occurrences

EMAIL = "erik.erased@example.com"


async def database_with_a_contact(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE contacts (id TEXT PRIMARY KEY, email TEXT, note TEXT)"))
    for n in range(50):  # neighbours on the same and later pages
        async with db.transaction() as session:
            values = {"id": f"c-{n}", "email": f"c{n}@example.com", "note": "x" * 200}
            await session.execute(text("INSERT INTO contacts VALUES (:id, :email, :note)"), values)
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO contacts VALUES ('erik', :email, 'n')"), {"email": EMAIL})
    async with db.transaction() as session:  # a later write: the row's page is in the log twice
        await session.execute(text("UPDATE contacts SET note = 'seen' WHERE id = 'erik'"))
    assert file_occurrences(database_files(str(db.url)), [EMAIL])
    return db


@pytest.mark.parametrize("how", ["delete", "anonymise"])
async def test_an_erasure_leaves_no_copy_in_the_database_files(how: str, tmp_path: Path) -> None:
    db = await database_with_a_contact(tmp_path)
    statement = {
        "delete": "DELETE FROM contacts WHERE id = 'erik'",
        "anonymise": "UPDATE contacts SET email = NULL WHERE id = 'erik'",
    }[how]
    async with db.transaction() as session:
        await session.execute(text(statement))
        scrub_after_commit(session)
    async with db.session() as session:  # the service goes on reading
        assert await session.scalar(text("SELECT count(*) FROM contacts")) == 51 - (how == "delete")
    assert file_occurrences(database_files(str(db.url)), [EMAIL]) == []
    await db.dispose()


async def test_without_the_scrub_the_log_still_holds_a_deleted_row(tmp_path: Path) -> None:
    db = await database_with_a_contact(tmp_path)
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM contacts WHERE id = 'erik'"))
    found = file_occurrences(database_files(str(db.url)), [EMAIL])
    assert found and all(line.startswith("service.db-wal") for line in found), found
    await db.dispose()


async def test_every_connection_overwrites_deleted_content(tmp_path: Path) -> None:
    """Not left to the build: Debian's SQLite overwrites by default, others (SQLite's own
    default) do not."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    async with db.session() as session:
        assert await session.scalar(text("PRAGMA secure_delete")) == 1
    await db.dispose()
