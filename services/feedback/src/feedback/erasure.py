"""Erasure: comments and ids gone from answers and cases, scores and cases kept for the counts."""

from __future__ import annotations

import os

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import utcnow
from wom_chassis.privacy import remember_erased

from feedback.deliveries import Delivery
from feedback.models import (
    Case,
    CaseEvent,
    CustomerEmail,
    CustomerTier,
    ErasedCustomer,
    Response,
    TimelineEntry,
)

__all__ = ["forget_customer"]


async def forget_customer(session: AsyncSession, customer_id: str) -> None:
    """Delete the customer's comments, order ids, locale and tier; rename them to a random
    pseudonym in answers and cases (NPS, case volume and SLA figures keep counting); close their
    open case as `customer_erased`; drop agents' notes and replies to them and their timeline."""
    pseudonym = f"erased-{os.urandom(8).hex()}"
    case_ids = list(await session.scalars(select(Case.case_id).where(Case.customer_id == customer_id)))
    for delivery in await session.scalars(select(Delivery).where(Delivery.case_id.in_(case_ids))):
        delivery.payload = {**delivery.payload, "customer_id": pseudonym}
    await session.execute(
        update(Response)
        .where(Response.customer_id == customer_id)
        .values(customer_id=pseudonym, comment=None, order_id=None, locale=None, channel=None)
    )
    now = utcnow()
    await session.execute(
        update(Case)
        .where(Case.customer_id == customer_id, Case.status != "resolved")
        .values(status="resolved", resolution="customer_erased", resolved_at=now, open_for=None)
    )
    await session.execute(
        update(Case).where(Case.customer_id == customer_id).values(customer_id=pseudonym, note=None)
    )
    # the words agents wrote to them (a reply stays in the history as a line, with who and when)
    await session.execute(
        update(CaseEvent)
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind == "replied")
        .values(detail=None)
    )
    await session.execute(delete(CustomerTier).where(CustomerTier.customer_id == customer_id))
    # their timeline, and their name in the timelines of those they referred or were referred by
    await session.execute(delete(TimelineEntry).where(TimelineEntry.customer_id == customer_id))
    await session.execute(delete(CustomerEmail).where(CustomerEmail.customer_id == customer_id))
    await session.execute(
        update(TimelineEntry)
        .where(TimelineEntry.other_customer_id == customer_id)
        .values(other_customer_id=None)
    )
    await remember_erased(session, ErasedCustomer, customer_id)
