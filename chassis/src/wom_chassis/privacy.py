"""Personal data kept out of the database: keyed hashes for comparisons, and the register of
erased customers (only a hash of their id, so events that arrive later are ignored)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import LargeBinary, bindparam, delete, func, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from wom_chassis.columns import utcnow
from wom_chassis.database import scrub_after_commit, upsert
from wom_chassis.driver import select_where_in
from wom_chassis.tables import OutboxRecord

__all__ = ["customer_hash", "erased_among", "keyed_hash", "remember_erased"]


def customer_hash(customer_id: str) -> str:
    """The hash an erased customer is remembered by."""
    return hashlib.sha256(customer_id.encode()).hexdigest()


def keyed_hash(key: bytes, value: str) -> str:
    """An HMAC-SHA256 of `value`: equal values compare equal, and without the key the value
    cannot be recovered by trying likely inputs (IP addresses, emails)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


async def erased_among(session: AsyncSession, register: Any, customer_ids: Sequence[str]) -> set[str]:
    """The customers among `customer_ids` whose hash is in the `register` table (a model with
    `customer_hash` and `erased_at`): one read through the driver (a batch view's first)."""
    hashes = {customer_hash(customer_id): customer_id for customer_id in set(customer_ids)}
    rows = await select_where_in(session, register, ("customer_hash",), "customer_hash", hashes)
    return {hashes[value] for (value,) in rows}


def _mentions(session: AsyncSession, customer_id: str) -> Any:
    """An outbox row whose event names the customer under another key (a referral keyed by the
    friend names the advocate): its value holds the id as a JSON string."""
    needle = bindparam("mentioned", json.dumps(customer_id, ensure_ascii=False).encode(), LargeBinary)
    if session.get_bind().dialect.name == "postgresql":
        return text("position(:mentioned in outbox.value) > 0").bindparams(needle)
    return func.instr(OutboxRecord.value, needle) > 0


async def remember_erased(session: AsyncSession, register: Any, customer_id: str) -> None:
    """Put the customer's hash in the `register` table (once), drop the copies of events about
    them that were already published (the outbox keeps sent rows for a while), have those still
    to be published dropped once they are (the relay), and have the database files scrubbed of
    what the transaction deletes once it commits."""
    scrub_after_commit(session)
    about_them = or_(OutboxRecord.key == customer_id.encode(), _mentions(session, customer_id))
    # marked first, then the sent ones deleted: a row the relay marks sent between the two
    # statements (PostgreSQL, read committed) is deleted by the second rather than missed by both
    await session.execute(
        update(OutboxRecord).where(about_them, OutboxRecord.sent_at.is_(None)).values(forget_when_sent=True)
    )
    await session.execute(delete(OutboxRecord).where(about_them, OutboxRecord.sent_at.is_not(None)))
    await upsert(
        session,
        register,
        {"customer_hash": customer_hash(customer_id), "erased_at": utcnow()},
        key=["customer_hash"],
        update=[],
    )
