"""Queueing messages, suppressing them and failing them: every message once per kind, cause and
channel, and every message not sent announced with its reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork, get_logger, new_id, utcnow
from wom_contracts import MessageFailedV1, MessageSuppressedV1

from outreach.batch_view import BatchView
from outreach.kinds import kind_of
from outreach.models import Contact, Message

__all__ = ["fail", "queue_buffered", "queue_message", "suppress"]

log = get_logger(__name__)


async def queue_message(
    uow: UnitOfWork[None],
    customer_id: str,
    kind: str,
    data: dict[str, Any],
    *,
    channels: list[str],
    due_at: datetime | None = None,
    cause: str | None = None,
) -> list[Message]:
    """Queue `kind` for the customer on each channel, once per cause (the event being handled
    unless given); it waits while the contact is unknown, and until `due_at` when given."""
    session = uow.session
    cause_id = cause or uow.event_id
    known = await session.scalar(
        select(Contact.customer_id).where(Contact.customer_id == customer_id, Contact.email.is_not(None))
    )
    queued = []
    for channel in channels:
        if await _exists(session, kind, cause_id, channel):
            log.info("message_already_queued", kind=kind, cause=cause_id, channel=channel)
            continue
        message = Message(**_row(uow, customer_id, kind, data, channel, cause_id, bool(known), due_at))
        session.add(message)
        queued.append(message)
    return queued


def queue_buffered(
    uow: UnitOfWork[BatchView],
    customer_id: str,
    kind: str,
    data: dict[str, Any],
    *,
    channels: list[str],
    due_at: datetime | None = None,
    cause: str | None = None,
) -> None:
    """`queue_message` for the consume path: what it reads comes from the batch's view, the rows
    are buffered. A message already queued in this transaction is skipped here;
    one queued by an earlier transaction is skipped by the database (insert or do nothing on
    the once-per-cause key), as `queue_message` would skip it, but without a log line."""
    cause_id = cause or uow.event_id
    customers = uow.view
    contact = customers.contacts.get(customer_id)
    known = contact is not None and contact.email is not None
    for channel in channels:
        key = (kind, cause_id, channel)
        if key in customers.queued:
            log.info("message_already_queued", kind=kind, cause=cause_id, channel=channel)
            continue
        customers.queued[key] = customer_id
        row = _row(uow, customer_id, kind, data, channel, cause_id, known, due_at)
        uow.upsert(Message.__table__, row, key=["kind", "cause_event_id", "channel"], update=[])


def _row(
    uow: UnitOfWork[Any],
    customer_id: str,
    kind: str,
    data: dict[str, Any],
    channel: str,
    cause_id: str,
    known: bool,
    due_at: datetime | None,
) -> dict[str, Any]:
    """A new message's columns; it waits while the contact is unknown."""
    now = utcnow()
    traceparent, tracestate = uow.trace_context
    return {
        "id": new_id(),
        "customer_id": customer_id,
        "kind": kind,
        "message_class": kind_of(kind).message_class,
        "channel": channel,
        "cause_event_id": cause_id,
        "status": "queued" if known else "waiting",
        "data": data,
        "attempts": 0,
        "due_at": due_at,
        "next_attempt_at": max(due_at, now) if due_at else now,
        "created_at": now,
        "traceparent": traceparent,
        "tracestate": tracestate,
    }


async def _exists(session: AsyncSession, kind: str, cause: str, channel: str) -> bool:
    found = await session.scalar(
        select(Message.id).where(
            Message.kind == kind, Message.cause_event_id == cause, Message.channel == channel
        )
    )
    return found is not None


def suppress(uow: UnitOfWork[Any], message: Message, reason: str) -> None:
    """Do not send `message`, and say why."""
    message.status, message.reason = "suppressed", reason
    uow.emit(
        MessageSuppressedV1(
            customer_id=message.customer_id,
            message_id=message.id,
            kind=message.kind,
            channel=message.channel,
            cause_event_id=message.cause_event_id,
            reason=reason,
            occurred_at=utcnow(),
        )
    )
    log.info("message_suppressed", message_id=message.id, kind=message.kind, reason=reason)


def fail(
    uow: UnitOfWork[None], message: Message, error: str, *, locale: str | None, retry_at: datetime | None
) -> None:
    """An attempt to send `message` failed with `error`: try again at `retry_at`, or, without one,
    give the message up and say why (`locale` is the contact's, for the event)."""
    message.last_error = error[:2000]
    if retry_at is not None:
        message.next_attempt_at = retry_at
        log.warning("message_retry_later", message_id=message.id, error=message.last_error)
        return
    message.status = "failed"
    uow.emit(
        MessageFailedV1(
            customer_id=message.customer_id,
            message_id=message.id,
            kind=message.kind,
            channel=message.channel,
            locale=locale,
            cause_event_id=message.cause_event_id,
            error=message.last_error,
            attempts=message.attempts,
            occurred_at=utcnow(),
        )
    )
    log.error("message_failed", message_id=message.id, error=message.last_error)
