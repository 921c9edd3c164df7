"""What the rules look at: the batch's view for the consume path, the tables for the API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import UnitOfWork

from referrals.batch_view import BatchView
from referrals.domain.fraud import Evidence, Party, closes_a_ring
from referrals.domain.qualification import OrderFacts
from referrals.models import Order, Refund
from referrals.view_rows import CustomerRow, ReferralRow

__all__ = ["evidence_for", "order_facts"]

_REFUNDS = select(Refund.amount).where(Refund.order_id == bindparam("order_id"))


async def order_facts(session: AsyncSession, order_id: str) -> OrderFacts | None:
    """One order with what was refunded so far, from the tables (an operator's decision)."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    refunds = await session.scalars(_REFUNDS, {"order_id": order_id})
    return OrderFacts(
        order_id=order.order_id,
        completed_at=order.completed_at,
        amount=Decimal(order.amount),
        currency=order.currency,
        refunded=sum((Decimal(amount) for amount in refunds), Decimal(0)),
        payment_fingerprint=order.payment_fingerprint,
    )


def _party(customer: CustomerRow, fingerprints: set[str]) -> Party:
    return Party(
        customer_id=customer.customer_id,
        email_hash=customer.email_hash,
        ip_hash=customer.ip_hash,
        device_hash=customer.device_hash,
        disposable_email=customer.disposable_email,
        payment_fingerprints=frozenset(fingerprints),
    )


async def evidence_for(
    uow: UnitOfWork[BatchView],
    referral: ReferralRow,
    advocate: CustomerRow,
    friend: CustomerRow,
    friend_orders: list[OrderFacts],
) -> Evidence:
    """The evidence for one referral at the time of the friend's first order (`friend_orders`:
    all the friend's orders, earliest first)."""
    view = uow.view
    first = friend_orders[0]
    advocate_id = referral.advocate_id
    last_week = await view.qualified_between(
        uow, advocate_id, referral.referral_id, first.completed_at - timedelta(days=7), first.completed_at
    )
    day_before = first.completed_at - timedelta(days=1)
    friend_payments = {o.payment_fingerprint for o in friend_orders if o.payment_fingerprint is not None}
    chain = await view.advocate_chain(uow, advocate_id)
    return Evidence(
        advocate=_party(advocate, await view.payment_fingerprints(uow, advocate_id)),
        friend=_party(friend, friend_payments),
        friend_payment=first.payment_fingerprint,
        other_friends_payments=frozenset(
            await view.other_friends_payments(uow, advocate_id, referral.friend_id)
        ),
        advocate_qualified_last_day=sum(1 for at in last_week if at > day_before),
        advocate_qualified_last_week=len(last_week),
        ring=closes_a_ring(chain[1:], friend.customer_id),
    )
