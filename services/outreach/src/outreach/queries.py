"""The read side of outreach's HTTP API: functions that take a session and return rows, so the
routes only shape them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import Contact, Message

__all__ = ["CustomerHistory", "customer_history"]


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's contact (None when outreach has none) and messages, oldest first."""

    contact: Contact | None
    messages: Sequence[Message]


async def customer_history(session: AsyncSession, customer_id: str) -> CustomerHistory:
    """What outreach knows of `customer_id` and every message it sent, scheduled or suppressed."""
    contact = await session.get(Contact, customer_id)
    messages = (
        await session.scalars(
            select(Message).where(Message.customer_id == customer_id).order_by(Message.created_at)
        )
    ).all()
    return CustomerHistory(contact, messages)
