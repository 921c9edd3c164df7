"""What the rewards service tests read back: ledger rows and the events it emitted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rewards.models import LedgerEntry
from sqlalchemy import select
from wom_chassis import Service
from wom_contracts import (
    CaseResolvedV1,
    Money,
    OrderCompletedV1,
    OrderRefundedV1,
    ReferralQualifiedV1,
    ReferralReversedV1,
)

NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = NOW - timedelta(days=30)  # an order this old is past its 14-day hold


def money(amount: str, currency: str = "EUR") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


def order(
    order_id: str = "o-1",
    amount: str = "42.50",
    currency: str = "EUR",
    customer: str = "anna",
    when: datetime = NOW,
) -> OrderCompletedV1:
    return OrderCompletedV1(
        order_id=order_id, customer_id=customer, total=money(amount, currency), completed_at=when
    )


def refund(
    refund_id: str,
    order_id: str = "o-1",
    amount: str = "10.00",
    currency: str = "EUR",
    customer: str = "anna",
) -> OrderRefundedV1:
    return OrderRefundedV1(
        refund_id=refund_id,
        order_id=order_id,
        customer_id=customer,
        amount=money(amount, currency),
        refunded_at=NOW,
    )


def qualified(
    referral_id: str = "ref-1",
    advocate: str = "maria",
    friend: str = "ben",
    hold_until: datetime | None = None,
    when: datetime = NOW,
) -> ReferralQualifiedV1:
    return ReferralQualifiedV1(
        customer_id=friend,
        referral_id=referral_id,
        advocate_customer_id=advocate,
        order_id=f"o-{referral_id}",
        order_total=money("50.00"),
        hold_until=hold_until or NOW + timedelta(days=14),
        occurred_at=when,
    )


def reversed_(referral_id: str = "ref-1", advocate: str = "maria", friend: str = "ben") -> ReferralReversedV1:
    return ReferralReversedV1(
        customer_id=friend,
        referral_id=referral_id,
        advocate_customer_id=advocate,
        order_id=f"o-{referral_id}",
        reason="order_refunded",
        occurred_at=NOW,
    )


def resolved(case_id: str = "case-1", amount: str | None = "15.00", customer: str = "anna") -> CaseResolvedV1:
    return CaseResolvedV1(
        customer_id=customer,
        case_id=case_id,
        resolution="refunded_and_apologised",
        compensation=money(amount) if amount else None,
        occurred_at=NOW,
    )


async def entries(service: Service, customer: str | None = None) -> list[LedgerEntry]:
    async with service.db.session() as session:
        query = select(LedgerEntry).order_by(LedgerEntry.created_at, LedgerEntry.kind)
        if customer is not None:
            query = query.where(LedgerEntry.customer_id == customer)
        return list((await session.scalars(query)).all())
