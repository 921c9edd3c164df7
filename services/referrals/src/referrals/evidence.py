"""What the rules look at, read from this service's tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from referrals.domain.fraud import Evidence, Party
from referrals.domain.qualification import OrderFacts
from referrals.models import Customer, Order, Referral, Refund

__all__ = ["CHAIN_LIMIT", "advocate_chain", "evidence_for", "order_facts", "orders_of"]

CHAIN_LIMIT = 50
"""How far up a chain of advocates the ring rule looks."""

QUALIFIED = ("qualified", "reversed")  # referrals that did qualify, even if undone later

# built once: building a statement costs more than SQLite takes to run it
_ORDERS_OF = (
    select(Order)
    .where(Order.customer_id == bindparam("customer_id"))
    .order_by(Order.completed_at, Order.order_id)
)
_REFUNDED = select(Refund.order_id, Refund.amount).where(
    Refund.order_id.in_(bindparam("order_ids", expanding=True))
)
_FINGERPRINTS = (
    select(Order.payment_fingerprint)
    .where(Order.customer_id == bindparam("customer_id"), Order.payment_fingerprint.is_not(None))
    .distinct()
)
_ABOVE = select(Referral.advocate_id).where(
    Referral.standing_for == bindparam("customer_id"), Referral.status != "rejected"
)
_OTHER_FRIENDS_PAYMENTS = (
    select(Order.payment_fingerprint)
    .where(
        Order.customer_id.in_(
            select(Referral.friend_id).where(
                Referral.advocate_id == bindparam("advocate_id"),
                Referral.friend_id != bindparam("friend_id"),
                Referral.standing_for.is_not(None),
            )
        ),
        Order.payment_fingerprint.is_not(None),
    )
    .distinct()
)
_QUALIFIED_BETWEEN = select(Referral.order_completed_at).where(
    Referral.advocate_id == bindparam("advocate_id"),
    Referral.referral_id != bindparam("referral_id"),
    Referral.status.in_(QUALIFIED),
    Referral.order_completed_at > bindparam("after", type_=Referral.order_completed_at.type),
    Referral.order_completed_at <= bindparam("until", type_=Referral.order_completed_at.type),
)


async def orders_of(session: AsyncSession, customer_id: str) -> list[OrderFacts]:
    """The customer's orders, earliest first, each with what was refunded so far."""
    orders = (await session.scalars(_ORDERS_OF, {"customer_id": customer_id})).all()
    if not orders:
        return []
    refunded = await _refunded(session, [order.order_id for order in orders])
    return [_facts(order, refunded[order.order_id]) for order in orders]


async def order_facts(session: AsyncSession, order_id: str) -> OrderFacts | None:
    """One order with what was refunded so far; None while the order has not arrived."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    return _facts(order, (await _refunded(session, [order_id]))[order_id])


def _facts(order: Order, refunded: Decimal) -> OrderFacts:
    return OrderFacts(
        order_id=order.order_id,
        completed_at=order.completed_at,
        amount=Decimal(order.amount),
        currency=order.currency,
        refunded=refunded,
        payment_fingerprint=order.payment_fingerprint,
    )


async def _refunded(session: AsyncSession, order_ids: list[str]) -> defaultdict[str, Decimal]:
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    rows = await session.execute(_REFUNDED, {"order_ids": order_ids})
    for order_id, amount in rows:
        totals[order_id] += Decimal(amount)
    return totals


async def _fingerprints(session: AsyncSession, customer_id: str) -> set[str]:
    fingerprints = await session.scalars(_FINGERPRINTS, {"customer_id": customer_id})
    return {str(value) for value in fingerprints}


def _party(customer: Customer, fingerprints: set[str]) -> Party:
    return Party(
        customer_id=customer.customer_id,
        email_hash=customer.email_hash,
        ip_hash=customer.ip_hash,
        device_hash=customer.device_hash,
        disposable_email=customer.disposable_email,
        payment_fingerprints=frozenset(fingerprints),
    )


async def advocate_chain(session: AsyncSession, advocate_id: str) -> list[str]:
    """The advocate, the one who referred them, the one who referred that one, and so on."""
    chain = [advocate_id]
    while len(chain) < CHAIN_LIMIT:
        above = await session.scalar(_ABOVE, {"customer_id": chain[-1]})
        if above is None or above in chain:
            break
        chain.append(above)
    return chain


async def evidence_for(
    session: AsyncSession,
    referral: Referral,
    advocate: Customer,
    friend: Customer,
    friend_orders: list[OrderFacts],
) -> Evidence:
    """The evidence for one referral at the time of the friend's first order (`friend_orders`:
    all the friend's orders, earliest first, as `orders_of` reads them)."""
    first = friend_orders[0]
    other_payments = await session.scalars(
        _OTHER_FRIENDS_PAYMENTS, {"advocate_id": referral.advocate_id, "friend_id": referral.friend_id}
    )
    qualified_last_week = list(
        await session.scalars(
            _QUALIFIED_BETWEEN,
            {
                "advocate_id": referral.advocate_id,
                "referral_id": referral.referral_id,
                "after": first.completed_at - timedelta(days=7),
                "until": first.completed_at,
            },
        )
    )
    day_before = first.completed_at - timedelta(days=1)
    friend_payments = {
        order.payment_fingerprint for order in friend_orders if order.payment_fingerprint is not None
    }
    return Evidence(
        advocate=_party(advocate, await _fingerprints(session, advocate.customer_id)),
        friend=_party(friend, friend_payments),
        friend_payment=first.payment_fingerprint,
        other_friends_payments=frozenset(str(value) for value in other_payments),
        advocate_qualified_last_day=sum(
            1 for at in qualified_last_week if at is not None and at > day_before
        ),
        advocate_qualified_last_week=len(qualified_last_week),
        ring=friend.customer_id in (await advocate_chain(session, referral.advocate_id))[1:],
    )
