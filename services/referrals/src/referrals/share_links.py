"""The share link's visits, as the internet sends them: at most one click counted per code,
visitor and hour (a visitor who reloads, or a script that repeats, counts once); a rate limit per
client address (`REFERRALS_SHARE_LINK_VISITS_PER_MINUTE`, counted in the database so that every
process and replica sees the same count); and an unknown code answered like a known one. Both
take the same three statements — the address's count, the code's owner, then either the click
(insert or keep) or the hour's count of unknown codes — and both send the visitor to the
storefront with the code: from outside a code that nobody holds cannot be told from one that
somebody does, by the status, the redirect or the time it takes.

Written here: the rate-limiting libraries keep their counts in memory, Redis or memcached, and a
service here has only its database in common with its other processes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import Service, UnitOfWork, new_id, upsert, utcnow

from referrals.domain.sharing import CHANNELS
from referrals.models import Click, ReferralCode, ShareLinkVisitor, UnknownCodeVisits
from referrals.programme import Programme

__all__ = ["Visit", "forget_stale_visitors", "visit"]

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Visit:
    """A share-link visit's outcome: whose code it was (None: nobody's, or not looked at), and,
    when the address is over its limit, the whole seconds until its next window."""

    advocate_id: str | None
    retry_after: int | None = None


@cache
def _statements(dialect: str) -> tuple[Any, Any]:
    """The address's count (`RETURNING` the visits of its window) and an unknown code's count,
    one insert-or-update each."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    visitors, unknown = ShareLinkVisitor.__table__, UnknownCodeVisits.__table__
    counted = insert(visitors)
    same_window = visitors.c.window_start == counted.excluded.window_start
    count_visit = counted.on_conflict_do_update(
        index_elements=["address_hash"],
        set_={
            "visits": case((same_window, visitors.c.visits + 1), else_=1),
            "window_start": counted.excluded.window_start,
        },
    ).returning(visitors.c.visits)
    count_unknown = insert(unknown).on_conflict_do_update(
        index_elements=["hour"], set_={"visits": unknown.c.visits + 1}
    )
    return count_visit, count_unknown


async def visit(
    uow: UnitOfWork[None],
    code: str,
    *,
    channel: str | None,
    address: str,
    user_agent: str,
    programme: Programme,
    per_minute: int,
    now: datetime | None = None,
) -> Visit:
    """Count the visit against its address and, within the limit, as a click of `code` (once per
    visitor and hour) or as a visit of an unknown code. In the caller's transaction, which must
    commit even when the address is over its limit (the count goes on)."""
    now = now or utcnow()
    session = uow.session
    count_visit, count_unknown = _statements(session.get_bind().dialect.name)
    window = now.replace(second=0, microsecond=0)
    address_hash = programme.hashed(f"address\0{address}")
    visits = await session.scalar(
        count_visit, {"address_hash": address_hash, "window_start": window, "visits": 1}
    )
    if visits is not None and visits > per_minute:
        return Visit(None, retry_after=max(1, math.ceil((window + WINDOW - now).total_seconds())))
    advocate_id = await session.scalar(select(ReferralCode.customer_id).where(ReferralCode.code == code))
    hour = now.replace(minute=0, second=0, microsecond=0)
    if advocate_id is None:
        await session.execute(count_unknown, {"hour": hour, "visits": 1})
        return Visit(None)
    click = {
        "id": new_id(),
        "code": code,
        "advocate_id": advocate_id,
        "channel": channel if channel in CHANNELS else None,
        "visitor_hash": programme.hashed(f"{address}|{user_agent}"),
        "clicked_at": now,
        "counted_hour": hour,
    }
    await upsert(session, Click, click, key=["code", "visitor_hash", "counted_hour"], update=[])
    return Visit(advocate_id)


async def forget_stale_visitors(service: Service) -> int:
    """Delete the counts of addresses whose window has passed (a job); how many went."""
    async with service.db.transaction() as session:
        return await _forget_before(session, utcnow() - 2 * WINDOW)


async def _forget_before(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(delete(ShareLinkVisitor).where(ShareLinkVisitor.window_start < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
