"""Handlers of the outreach service: keep the contact projection, queue messages."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from wom_chassis import EventHandlers, UnitOfWork, get_logger, utcnow
from wom_contracts import CustomerErasedV1, CustomerRegisteredV1, RewardGrantedV1

from outreach.models import Contact, Message

__all__ = [
    "build_handlers",
    "on_customer_erased",
    "on_customer_registered",
    "on_reward_granted",
    "queue_message",
]

log = get_logger(__name__)


async def on_customer_registered(event: CustomerRegisteredV1, uow: UnitOfWork) -> None:
    """Create or refresh the contact, then release messages that were waiting for it."""
    now = utcnow()
    contact = await uow.session.get(Contact, event.customer_id)
    if contact is None:
        contact = Contact(customer_id=event.customer_id, registered_at=event.registered_at)
        uow.session.add(contact)
    contact.email = str(event.email)
    contact.first_name = event.first_name
    contact.last_name = event.last_name
    contact.locale = event.locale
    contact.timezone = event.timezone
    contact.marketing_consent = event.marketing_consent
    contact.updated_at = now
    await uow.session.execute(
        update(Message)
        .where(Message.customer_id == event.customer_id, Message.status == "waiting")
        .values(status="queued", next_attempt_at=now)
    )


async def on_reward_granted(event: RewardGrantedV1, uow: UnitOfWork) -> None:
    """Thank the customer for what they earned (a transactional message)."""
    if event.points is None:
        return
    hold_until = event.hold_until.date().isoformat() if event.hold_until else None
    await queue_message(
        uow,
        event.customer_id,
        "reward_granted",
        {
            "points": event.points,
            "order_id": event.order_id,
            "hold_until": hold_until,
            "points_available": event.balance.points_available,
            "points_pending": event.balance.points_pending,
        },
    )


async def queue_message(uow: UnitOfWork, customer_id: str, kind: str, data: dict[str, Any]) -> None:
    """Queue one email of `kind`, once per causing event; it waits while the contact is unknown."""
    known = await uow.session.scalar(select(Contact.customer_id).where(Contact.customer_id == customer_id))
    now = utcnow()
    uow.session.add(
        Message(
            id=uuid.uuid4().hex,
            customer_id=customer_id,
            kind=kind,
            channel="email",
            cause_event_id=uow.event_id,
            status="queued" if known else "waiting",
            data=data,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    if not known:
        log.info("message_waits_for_contact", kind=kind)


async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork) -> None:
    """Forget the contact; keep only an anonymous trace of past messages, send nothing more."""
    await uow.session.execute(delete(Contact).where(Contact.customer_id == event.customer_id))
    await uow.session.execute(
        update(Message)
        .where(Message.customer_id == event.customer_id, Message.status.in_(("waiting", "queued")))
        .values(status="cancelled", last_error="customer erased")
    )
    await uow.session.execute(
        update(Message)
        .where(Message.customer_id == event.customer_id)
        .values(recipient=None, subject=None, data={})
    )


def build_handlers() -> EventHandlers:
    """The outreach handlers."""
    handlers = EventHandlers()
    handlers.on(CustomerRegisteredV1)(on_customer_registered)
    handlers.on(RewardGrantedV1)(on_reward_granted)
    handlers.on(CustomerErasedV1)(on_customer_erased)
    return handlers
