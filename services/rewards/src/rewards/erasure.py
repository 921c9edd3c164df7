"""Erasure: a customer's personal data deleted, their ledger kept under a pseudonym."""

from __future__ import annotations

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import new_id
from wom_chassis.privacy import remember_erased

from rewards.ledger import ANONYMOUS_PREFIX
from rewards.models import (
    Coupon,
    Customer,
    ErasedCustomer,
    LedgerEntry,
    Order,
    Redemption,
    Referral,
    Refund,
    WithheldReward,
)

__all__ = ["forget_customer", "new_pseudonym"]


def new_pseudonym() -> str:
    """A random name for what is kept of an erased customer: it cannot be traced back."""
    return f"{ANONYMOUS_PREFIX}{new_id()[:16]}"


async def forget_customer(session: AsyncSession, customer_id: str) -> str:
    """Delete what rewards knows of the customer (birthday, time zone, tier, orders, refunds);
    keep the ledger, coupons and referrals for accounting under a random pseudonym that cannot
    be traced back; remember only a hash of the id, so later events about them are ignored.
    Returns the pseudonym."""
    pseudonym = new_pseudonym()
    for model in (LedgerEntry, Coupon, Redemption, WithheldReward):
        await session.execute(
            update(model).where(model.customer_id == customer_id).values(customer_id=pseudonym)
        )
    await session.execute(
        update(Referral).where(Referral.advocate_id == customer_id).values(advocate_id=pseudonym)
    )
    await session.execute(
        update(Referral).where(Referral.friend_id == customer_id).values(friend_id=pseudonym)
    )
    # the once-key of a birthday gift names its customer (one gift a year): it takes the pseudonym
    named = f"birthday:{customer_id}:"
    await session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.customer_id == pseudonym, LedgerEntry.once_key.startswith(named, autoescape=True))
        .values(once_key=f"birthday:{pseudonym}:" + func.substr(LedgerEntry.once_key, len(named) + 1))
    )
    for forgotten in (Customer, Order, Refund):
        await session.execute(delete(forgotten).where(forgotten.customer_id == customer_id))
    await remember_erased(session, ErasedCustomer, customer_id)
    return pseudonym
