"""The read side of the support console: functions that take a session and return rows, so the
routes only render them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from feedback.models import Case, CaseEvent, CustomerEmail, CustomerTier, Response, TimelineEntry

__all__ = [
    "CaseRecord",
    "CustomerRecord",
    "TimelineLine",
    "case_queue",
    "case_record",
    "customer_by_email",
    "customer_queues",
    "customer_record",
    "open_cases",
]


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


@dataclass(frozen=True)
class TimelineLine:
    """One line of a customer's page: when, what (a timeline kind, `answer`, `case_opened`,
    `case_resolved`), its facts, and the case it links to."""

    at: datetime
    kind: str
    detail: dict[str, Any]
    case_id: str | None = None


@dataclass(frozen=True)
class CustomerRecord:
    """What the customer page shows: the tier now, the lines newest first (at most the limit),
    and whether there were more."""

    customer_id: str
    tier: str | None
    lines: Sequence[TimelineLine]
    more: bool


async def customer_by_email(session: AsyncSession, email_hash: str) -> str | None:
    """The customer who signed up with the address of `email_hash`, if any."""
    return await session.scalar(
        select(CustomerEmail.customer_id).where(CustomerEmail.email_hash == email_hash)
    )


async def customer_queues(session: AsyncSession, customer_id: str) -> set[str]:
    """The queues the customer's cases are in (an agent of one of them may read the customer)."""
    return set(await session.scalars(select(Case.queue).where(Case.customer_id == customer_id).distinct()))


async def customer_record(session: AsyncSession, customer_id: str, limit: int) -> CustomerRecord | None:
    """The customer's timeline from the other services' events, with their answers and cases;
    None when feedback knows nothing of them."""
    entries = (
        await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.customer_id == customer_id)
            .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
            .limit(limit + 1)
        )
    ).all()
    answers = (
        await session.scalars(
            select(Response)
            .where(Response.customer_id == customer_id)
            .order_by(Response.submitted_at.desc())
            .limit(limit + 1)
        )
    ).all()
    cases = (
        await session.scalars(
            select(Case)
            .where(Case.customer_id == customer_id)
            .order_by(Case.opened_at.desc())
            .limit(limit + 1)
        )
    ).all()
    tier = await session.get(CustomerTier, customer_id)
    if not (entries or answers or cases or tier):
        return None
    lines = [TimelineLine(e.at, e.kind, e.detail) for e in entries]
    lines += [
        TimelineLine(
            a.submitted_at,
            "answer",
            {
                "survey": a.kind,
                "score": a.score,
                "category": a.category,
                "signals": a.signals,
                "comment": a.comment,
            },
            a.case_id,
        )
        for a in answers
    ]
    for case in cases:
        lines.append(
            TimelineLine(
                case.opened_at,
                "case_opened",
                {"priority": case.priority, "queue": case.queue, "status": case.status},
                case.case_id,
            )
        )
        if case.resolved_at is not None:
            resolved: dict[str, Any] = {"resolution": case.resolution, "by": case.resolved_by}
            if case.compensation_amount is not None:
                resolved["credit"] = {
                    "amount": str(case.compensation_amount),
                    "currency": case.compensation_currency,
                }
            lines.append(TimelineLine(case.resolved_at, "case_resolved", resolved, case.case_id))
    lines.sort(key=lambda line: line.at, reverse=True)
    return CustomerRecord(customer_id, tier.tier if tier else None, lines[:limit], len(lines) > limit)
