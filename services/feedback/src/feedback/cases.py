"""Remediation cases: opened or joined by negative answers, claimed and resolved by agents,
breached when their SLA passes; every step in the case's history and announced as an event."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from wom_chassis import UnitOfWork, get_logger, new_id
from wom_chassis.unit_of_work import View
from wom_contracts import CaseBreachedV1, CaseOpenedV1, CaseRepliedV1, CaseResolvedV1, Money

from feedback.batch_view import OpenCase
from feedback.domain.triage import Triage, sla_deadline
from feedback.escalation import schedule_escalation
from feedback.models import Case, CaseEvent
from feedback.rules import Rules

__all__ = [
    "CaseConflict",
    "claim",
    "compensation_of",
    "join_case",
    "mark_breaches",
    "open_case",
    "raise_for_key_client",
    "reply",
    "resolve",
]

log = get_logger(__name__)


class CaseConflict(Exception):
    """The case cannot make this step (already resolved, claimed by someone else)."""


def _history(uow: UnitOfWork[View], case_id: str, kind: str, actor: str | None = None, **detail: Any) -> None:
    """A line of the case's history, written at the unit of work's next flush (the table, not
    the class: a Core insert, every line one shape, all of a batch's lines in one statement).
    Lines of one unit of work share its time; their time-ordered ids keep them in order."""
    uow.insert(
        CaseEvent.__table__,
        id=uow.ids.next(),
        case_id=case_id,
        at=uow.now,
        kind=kind,
        actor=actor,
        detail=detail or None,
    )


_TRIAGE = ("priority", "sla_due_at", "signals", "key_client")
"""what of an unresolved case the consume path changes"""


def _write_case(uow: UnitOfWork[View], case: OpenCase) -> None:
    """Write `case` at the next flush: inserted when it is new, else its triage updated (one
    upsert shape for opening, joining and raising: a batch's cases in one statement)."""
    uow.upsert(
        Case.__table__,
        {
            "case_id": case.case_id,
            "customer_id": case.customer_id,
            "open_for": case.customer_id,
            "status": case.status,
            "priority": case.priority,
            "queue": case.queue,
            "key_client": case.key_client,
            "tier": case.tier,
            "signals": case.signals,
            "opened_at": case.opened_at,
            "sla_due_at": case.sla_due_at,
            "first_response_id": case.first_response_id,
        },
        key=("case_id",),
        update=_TRIAGE,
    )


def join_case(uow: UnitOfWork[View], case: OpenCase, *, response_id: str, score: int, triage: Triage) -> None:
    """Add a negative answer to the customer's open case, raising its priority when this answer
    is more urgent; the case's row is written only when that or its signals change."""
    _history(uow, case.case_id, "joined", response_id=response_id, score=score)
    signals = sorted(set(case.signals) | set(triage.signals))
    raised = triage.priority < case.priority  # "P1" < "P2": more urgent
    if raised:
        case.priority = triage.priority
        case.sla_due_at = min(case.sla_due_at, triage.sla_due_at)
        _history(uow, case.case_id, "priority_raised", priority=triage.priority)
    if raised or signals != case.signals:
        case.signals = signals
        _write_case(uow, case)


def open_case(
    uow: UnitOfWork[View],
    *,
    customer_id: str,
    response_id: str,
    kind: str,
    score: int,
    tier: str | None,
    triage: Triage,
    rules: Rules,
) -> OpenCase:
    """Open a case for a negative answer of a customer without an open case: its row and history
    (at the next flush), the `CaseOpenedV1` event and the escalation deliveries of its queue."""
    case = OpenCase(
        case_id=new_id(),
        customer_id=customer_id,
        status="open",
        priority=triage.priority,
        queue=triage.queue,
        key_client=triage.key_client,
        tier=tier,
        signals=list(triage.signals),
        opened_at=triage.opened_at,
        sla_due_at=triage.sla_due_at,
        first_response_id=response_id,
    )
    _write_case(uow, case)
    _history(uow, case.case_id, "opened", response_id=response_id, priority=case.priority)
    uow.emit(
        CaseOpenedV1(
            customer_id=case.customer_id,
            case_id=case.case_id,
            response_id=response_id,
            priority=case.priority,
            queue=case.queue,
            sla_due_at=case.sla_due_at,
            kind=kind,
            score=score,
            signals=case.signals,
            key_client=case.key_client,
            occurred_at=case.opened_at,
        )
    )
    schedule_escalation(uow, case, "opened", case.opened_at, rules)
    log.info("case_opened", case_id=case.case_id, priority=case.priority, queue=case.queue)
    return case


async def _case_for(uow: UnitOfWork[None], case_id: str, agent: str, take_over: bool) -> Case | None:
    """The case, locked, for the agent to work; None when there is no such case, a conflict when
    it is resolved, or another agent's and the agent may not take it over (a supervisor may: the
    claim becomes theirs, and the history says whose it was)."""
    case = await uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        return None
    if case.status == "resolved":
        raise CaseConflict(f"case {case_id} is already resolved")
    if case.status == "claimed" and case.claimed_by != agent:
        if not take_over:
            raise CaseConflict(f"case {case_id} is claimed by {case.claimed_by}")
        _history(uow, case_id, "taken_over", actor=agent, from_agent=case.claimed_by)
        case.claimed_by, case.claimed_at = agent, uow.now
    return case


async def claim(uow: UnitOfWork[None], case_id: str, agent: str, *, take_over: bool = False) -> Case | None:
    """An agent takes the case (a supervisor, with `take_over`, also from another agent); None
    when there is no such case."""
    case = await _case_for(uow, case_id, agent, take_over)
    if case is not None and case.status == "open":
        case.status, case.claimed_by, case.claimed_at = "claimed", agent, uow.now
        _history(uow, case_id, "claimed", actor=agent)
    return case


async def resolve(
    uow: UnitOfWork[None],
    case_id: str,
    *,
    agent: str,
    resolution: str,
    note: str | None,
    compensation: Money | None,
    take_over: bool = False,
) -> Case | None:
    """Resolve the case with a resolution code, a note and an optional compensation (which
    rewards grants as store credit); None when there is no such case."""
    case = await _case_for(uow, case_id, agent, take_over)
    if case is None:
        return None
    now = uow.now
    case.status, case.open_for = "resolved", None
    case.resolved_at, case.resolved_by, case.resolution, case.note = now, agent, resolution, note
    if compensation is not None:
        case.compensation_amount, case.compensation_currency = compensation.amount, compensation.currency
    detail: dict[str, Any] = {"resolution": resolution}
    if compensation is not None:
        detail["compensation"] = f"{compensation.amount} {compensation.currency}"
    _history(uow, case_id, "resolved", actor=agent, **detail)
    uow.emit(
        CaseResolvedV1(
            customer_id=case.customer_id,
            case_id=case_id,
            resolution=resolution,
            note=note,
            compensation=compensation,
            resolved_by=agent,
            occurred_at=now,
        )
    )
    log.info("case_resolved", case_id=case_id, resolution=resolution)
    return case


async def reply(
    uow: UnitOfWork[None],
    case_id: str,
    *,
    agent: str,
    agent_name: str,
    reply_id: str,
    message: str,
    take_over: bool = False,
) -> Case | None:
    """The agent writes to the customer about the case (open, claimed by them, or resolved):
    the history keeps the words, outreach mails them signed `agent_name`. The same `reply_id`
    again (a second click, a resent form) is the same reply: nothing more happens. None when
    there is no such case."""
    case = await uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        return None
    if case.resolution == "customer_erased":
        raise CaseConflict(f"the customer of case {case_id} asked to be forgotten: nothing can be sent")
    if case.status == "claimed" and case.claimed_by != agent and not take_over:
        raise CaseConflict(f"case {case_id} is claimed by {case.claimed_by}")
    earlier = await uow.session.scalars(
        select(CaseEvent.detail).where(CaseEvent.case_id == case_id, CaseEvent.kind == "replied")
    )
    if any((detail or {}).get("reply_id") == reply_id for detail in earlier):
        log.info("reply_already_sent", case_id=case_id)
        return case
    _history(uow, case_id, "replied", actor=agent, reply_id=reply_id, message=message)
    uow.emit(
        CaseRepliedV1(
            customer_id=case.customer_id,
            case_id=case_id,
            reply_id=reply_id,
            message=message,
            agent_name=agent_name,
            occurred_at=uow.now,
        )
    )
    log.info("case_replied", case_id=case_id)
    return case


async def mark_breaches(uow: UnitOfWork[None], rules: Rules, now: datetime | None = None) -> list[Case]:
    """Mark unresolved cases past their SLA as breached (once), announce and escalate them."""
    now = now or uow.now
    due = (
        await uow.session.scalars(
            select(Case)
            .where(Case.status != "resolved", Case.breached_at.is_(None), Case.sla_due_at <= now)
            .order_by(Case.sla_due_at)
            .with_for_update()
        )
    ).all()
    for case in due:
        case.breached_at = now
        _history(
            uow, case.case_id, "breached", overdue_minutes=int((now - case.sla_due_at) / timedelta(minutes=1))
        )
        uow.emit(
            CaseBreachedV1(
                customer_id=case.customer_id,
                case_id=case.case_id,
                priority=case.priority,
                queue=case.queue,
                sla_due_at=case.sla_due_at,
                occurred_at=now,
            )
        )
        log.warning("case_breached", case_id=case.case_id, priority=case.priority, queue=case.queue)
        _escalate(uow, case, rules)
        schedule_escalation(uow, case, "breached", now, rules)  # to the team that has it now
    return list(due)


def _escalate(uow: UnitOfWork[None], case: Case, rules: Rules) -> None:
    """A breached case of a queue with `escalate_to` moves there, open for that team to claim
    (the agent who held it is in the history)."""
    queue = rules.queue(case.queue)
    if queue is None or queue.escalate_to is None:
        return
    detail: dict[str, Any] = {"from": case.queue, "to": queue.escalate_to, "reason": "breached"}
    if case.status == "claimed":
        detail["released_from"] = case.claimed_by
        case.status, case.claimed_by, case.claimed_at = "open", None, None
    case.queue = queue.escalate_to
    _history(uow, case.case_id, "reassigned", **detail)
    log.info("case_reassigned", case_id=case.case_id, queue=case.queue, reason="breached")


def compensation_of(case: Case) -> Money | None:
    """The compensation a resolved case granted, if any."""
    if case.compensation_amount is None or case.compensation_currency is None:
        return None
    return Money(amount=Decimal(case.compensation_amount), currency=case.compensation_currency)


def raise_for_key_client(uow: UnitOfWork[View], case: OpenCase, rules: Rules) -> None:
    """The customer of `case` became a key client: the case gets key-client priority and SLA."""
    priority = rules.priority.key_client
    if case.key_client and priority >= case.priority:
        return
    case.key_client = True
    if priority < case.priority:
        case.priority = priority
        case.sla_due_at = min(case.sla_due_at, sla_deadline(case.opened_at, priority, case.queue, rules))
        _history(uow, case.case_id, "priority_raised", priority=priority, reason="key_client")
    _write_case(uow, case)
