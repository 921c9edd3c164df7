"""The read side of the support console: functions that take a session and return rows, so the
routes only render them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.models import Case, CaseEvent, CustomerTier, Response

__all__ = ["CaseRecord", "case_queue", "case_record", "open_cases"]


async def open_cases(
    session: AsyncSession, queues: Collection[str], queue: str | None, limit: int
) -> Sequence[Case]:
    """The unresolved cases of `queues` (of `queue` alone when given), most urgent first: by
    priority, then SLA due time, then opening time; at most `limit`."""
    query = select(Case).where(Case.status != "resolved", Case.queue.in_(queues))
    if queue:
        query = query.where(Case.queue == queue)
    query = query.order_by(Case.priority, Case.sla_due_at, Case.opened_at).limit(limit)
    return (await session.scalars(query)).all()


@dataclass(frozen=True)
class CaseRecord:
    """A case with its answers (oldest first), its history and the customer's tier now."""

    case: Case
    answers: Sequence[Response]
    history: Sequence[CaseEvent]
    current_tier: str | None


async def case_record(session: AsyncSession, case_id: str) -> CaseRecord | None:
    """What the case page shows of `case_id`; None when there is no such case."""
    case = await session.get(Case, case_id)
    if case is None:
        return None
    answers = (
        await session.scalars(
            select(Response).where(Response.case_id == case_id).order_by(Response.submitted_at)
        )
    ).all()
    history = (
        await session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
        )
    ).all()
    tier = await session.get(CustomerTier, case.customer_id)
    return CaseRecord(case, answers, history, tier.tier if tier else None)


async def case_queue(session: AsyncSession, case_id: str) -> str | None:
    """The queue of `case_id`; None when there is no such case."""
    case = await session.get(Case, case_id)
    return None if case is None else case.queue
