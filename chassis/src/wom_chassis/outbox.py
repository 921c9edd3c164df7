"""Transactional outbox: events are rows written with the state they announce; the relay
(`wom_chassis.relay`) publishes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_contracts import Event, encode

from wom_chassis.columns import utcnow
from wom_chassis.driver import write_rows
from wom_chassis.tables import OutboxRecord
from wom_chassis.tracing import TraceContext

__all__ = ["add_to_outbox", "oldest_unsent_age", "outbox_row", "unsent_backlog"]


def outbox_row(
    event: Event,
    *,
    source: str,
    trace: TraceContext = (None, None),
    event_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`event` encoded as a CloudEvent, as an outbox row ready to insert; `trace` is the
    `traceparent` and `tracestate` of the work that emitted it. A unit of work passes the id
    and the time of its batch (`EventIds`, one clock reading); alone, both are made here."""
    now = now or utcnow()
    record = encode(event, source=source, event_id=event_id, time=now)
    return {
        "event_id": record.headers[0][1].decode(),  # ce_id comes first
        "event_type": event.event_type,
        "topic": record.topic,
        "key": record.key,
        "value": record.value,
        "headers": [[name, value.decode()] for name, value in record.headers],
        "created_at": now,
        "traceparent": trace[0],
        "tracestate": trace[1],
    }


async def add_to_outbox(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows (from `outbox_row`) in the session's transaction, in order."""
    await write_rows(session, OutboxRecord.__table__, rows)


async def oldest_unsent_age(session: AsyncSession, now: datetime | None = None) -> float:
    """Seconds since the oldest unsent outbox row was written (0 when none waits)."""
    oldest = await session.scalar(
        select(func.min(OutboxRecord.created_at)).where(OutboxRecord.sent_at.is_(None))
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or utcnow()) - oldest).total_seconds())


async def unsent_backlog(session: AsyncSession, now: datetime | None = None) -> tuple[int, float]:
    """How many outbox rows wait to be published, and the age in seconds of the oldest (0, 0.0
    when none waits); one query over the unsent-rows index."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxRecord.created_at)).where(OutboxRecord.sent_at.is_(None))
        )
    ).one()
    if oldest is None:
        return 0, 0.0
    return int(count), max(0.0, ((now or utcnow()) - oldest).total_seconds())
