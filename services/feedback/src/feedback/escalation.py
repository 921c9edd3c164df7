"""Escalation to support teams: when a case opens or breaches its SLA, one delivery per channel
of its queue (a signed webhook, an email) is written in the same transaction; the `deliver_due`
job in `feedback.deliveries` sends them.

The payload goes to third-party tools: it carries the case's facts and the customer's id, never
the comment or any other personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from wom_chassis import UnitOfWork, get_logger
from wom_chassis.unit_of_work import View

from feedback.batch_view import OpenCase
from feedback.deliveries import Delivery, console_path
from feedback.models import Case
from feedback.rules import Rules

__all__ = ["escalation_payload", "schedule_escalation"]

log = get_logger(__name__)


def escalation_payload(
    case: Case | OpenCase, what: Literal["opened", "breached"], occurred_at: datetime
) -> dict[str, Any]:
    """The JSON a support team receives about `case`, frozen when the delivery is scheduled."""
    return {
        "event": f"case.{what}",
        "what": what,
        "case_id": case.case_id,
        "customer_id": case.customer_id,
        "priority": case.priority,
        "queue": case.queue,
        "status": case.status,
        "key_client": bool(case.key_client),
        "signals": list(case.signals or []),
        "opened_at": case.opened_at.isoformat(),
        "sla_due_at": case.sla_due_at.isoformat(),
        "occurred_at": occurred_at.isoformat(),
        "console_path": console_path(case.case_id),
    }


def schedule_escalation(
    uow: UnitOfWork[View],
    case: Case | OpenCase,
    what: Literal["opened", "breached"],
    occurred_at: datetime,
    rules: Rules,
) -> None:
    """Queue the deliveries that tell the case's queue what happened at `occurred_at` (in this
    transaction, at the unit of work's next flush)."""
    queue = rules.queue(case.queue)
    if queue is None:  # the rules changed since the case was triaged
        log.warning("escalation_queue_unknown", case_id=case.case_id, queue=case.queue)
        return
    now = uow.now
    payload = escalation_payload(case, what, occurred_at)
    traceparent, tracestate = uow.trace_context
    targets = []
    if queue.webhook is not None:
        targets.append(("webhook", str(queue.webhook.url)))
    if queue.email is not None:
        targets.append(("email", str(queue.email)))
    for channel, target in targets:
        uow.insert(  # the table, not the class: a Core insert at the unit of work's next flush
            Delivery.__table__,
            id=uow.ids.next(),
            case_id=case.case_id,
            queue=queue.name,
            channel=channel,
            what=what,
            target=target,
            payload=dict(payload),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            traceparent=traceparent,
            tracestate=tracestate,
        )
    log.info("escalation_scheduled", case_id=case.case_id, what=what, channels=[c for c, _ in targets])
