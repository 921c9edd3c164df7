"""Events as a shop would publish them, and what the referrals tests read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from referrals.models import Referral
from sqlalchemy import select
from wom_chassis import Service
from wom_contracts import CustomerRegisteredV1, Money, OrderCompletedV1, OrderRefundedV1
from wom_testkit import publish_event

NOW = datetime.now(UTC).replace(microsecond=0)


def registered(
    customer: str,
    *,
    email: str | None = None,
    first_name: str | None = None,
    code: str | None = None,
    when: datetime | None = None,
    locale: str = "en",
    ip: str | None = None,
    device: str | None = None,
) -> CustomerRegisteredV1:
    return CustomerRegisteredV1(
        customer_id=customer,
        email=email or f"{customer}@example.com",
        first_name=first_name,
        registered_at=when or NOW,
        referral_code=code,
        locale=locale,
        ip_address=ip,
        device_id=device,
    )


def order(
    customer: str,
    order_id: str,
    amount: str = "50.00",
    *,
    currency: str = "EUR",
    code: str | None = None,
    payment: str | None = None,
    when: datetime | None = None,
) -> OrderCompletedV1:
    return OrderCompletedV1(
        customer_id=customer,
        order_id=order_id,
        total=Money(amount=Decimal(amount), currency=currency),
        completed_at=when or NOW + timedelta(minutes=5),
        referral_code=code,
        payment_fingerprint=payment,
    )


def refund(customer: str, order_id: str, amount: str, *, refund_id: str | None = None) -> OrderRefundedV1:
    return OrderRefundedV1(
        customer_id=customer,
        refund_id=refund_id or f"rf-{order_id}-{amount}",
        order_id=order_id,
        amount=Money(amount=Decimal(amount), currency="EUR"),
        refunded_at=NOW + timedelta(days=1),
    )


async def publish(service: Service, *events: object) -> None:
    for event in events:
        await publish_event(service.broker, event)  # type: ignore[arg-type]


async def code_of(service: Service, customer: str) -> str:
    from referrals.models import ReferralCode

    async with service.db.session() as session:
        code = await session.scalar(select(ReferralCode.code).where(ReferralCode.customer_id == customer))
    assert code is not None, f"{customer} has no code"
    return code


async def referrals_of_friend(service: Service, friend: str) -> list[Referral]:
    async with service.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(Referral).where(Referral.friend_id == friend).order_by(Referral.attributed_at)
                )
            ).all()
        )


async def the_referral(service: Service, friend: str) -> Referral:
    found = [r for r in await referrals_of_friend(service, friend) if r.standing_for is not None]
    assert len(found) == 1, found
    return found[0]
