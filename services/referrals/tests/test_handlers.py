"""referrals stores what its rules will need, and forgets an erased customer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from referrals.models import Customer, Order, Refund
from sqlalchemy import func, select
from wom_chassis import Service
from wom_chassis.testing import publish_event
from wom_contracts import CustomerErasedV1, CustomerRegisteredV1, Money, OrderCompletedV1, OrderRefundedV1

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
EUR = Money(amount=Decimal("30.00"), currency="EUR")


async def counts(service: Service) -> tuple[int, int, int]:
    async with service.db.session() as session:
        return tuple(  # type: ignore[return-value]
            [
                int(await session.scalar(select(func.count()).select_from(t)) or 0)
                for t in (Customer, Order, Refund)
            ]
        )


async def test_registrations_orders_and_refunds_are_stored_once(referrals: Service) -> None:
    await publish_event(
        referrals.broker,
        CustomerRegisteredV1(
            customer_id="friend", email="f@example.com", registered_at=WHEN, referral_code="ANNA-7K3Q"
        ),
    )
    # a refund before its order is kept, not dropped
    await publish_event(
        referrals.broker,
        OrderRefundedV1(customer_id="friend", refund_id="rf-1", order_id="o-1", amount=EUR, refunded_at=WHEN),
    )
    order = OrderCompletedV1(
        customer_id="friend",
        order_id="o-1",
        total=EUR,
        completed_at=WHEN,
        referral_code="ANNA-7K3Q",
        payment_fingerprint="fp-1",
    )
    await publish_event(referrals.broker, order)
    await publish_event(referrals.broker, order)  # sent twice by the shop: still one order
    assert await counts(referrals) == (1, 1, 1)
    async with referrals.db.session() as session:
        customer = await session.get(Customer, "friend")
        stored = await session.get(Order, "o-1")
    assert customer is not None and customer.signup_code == "ANNA-7K3Q"
    assert stored is not None and stored.amount == Decimal("30.00") and stored.payment_fingerprint == "fp-1"


async def test_erasure_forgets_the_customer(referrals: Service) -> None:
    await publish_event(
        referrals.broker, CustomerRegisteredV1(customer_id="gone", email="g@example.com", registered_at=WHEN)
    )
    await publish_event(
        referrals.broker, OrderCompletedV1(customer_id="gone", order_id="o-9", total=EUR, completed_at=WHEN)
    )
    await publish_event(
        referrals.broker, CustomerRegisteredV1(customer_id="stays", email="s@example.com", registered_at=WHEN)
    )
    await publish_event(referrals.broker, CustomerErasedV1(customer_id="gone", requested_at=WHEN))
    assert await counts(referrals) == (1, 0, 0)
