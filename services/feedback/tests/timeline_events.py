"""One event of each kind a customer's timeline shows, about the customer `ana` (and her friend
`bo` for referrals), at distinct times an hour apart from an hour before AT, newest last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from wom_contracts import (
    Balance,
    CodeIssuedV1,
    CustomerRegisteredV1,
    Event,
    MessageFailedV1,
    MessageSentV1,
    MessageSuppressedV1,
    Money,
    OrderCompletedV1,
    OrderItem,
    OrderRefundedV1,
    PointsExpiringV1,
    ReferralAttributedV1,
    ReferralQualifiedV1,
    ReferralRejectedV1,
    ReferralReversedV1,
    RewardGrantedV1,
    RewardRedeemedV1,
    RewardReleasedV1,
    RewardRevokedV1,
    RewardWithheldV1,
    TierChangedV1,
)

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
EUR = Money(amount=Decimal("42.50"), currency="EUR")
BALANCE = Balance(points_available=120, points_pending=40)


def hour(n: int) -> datetime:
    return AT + timedelta(hours=n)


def timeline_events() -> list[Event]:
    """Every kind, ana's; the referral steps have bo as the friend and ana as the advocate."""
    message = {"customer_id": "ana", "kind": "order_thanks", "channel": "email", "cause_event_id": "e-1"}
    referral = {"customer_id": "bo", "referral_id": "ref-1", "advocate_customer_id": "ana"}
    return [
        CustomerRegisteredV1(
            customer_id="ana",
            email="Ana.Pop@Example.com",
            first_name="Ana",
            registered_at=hour(-1),
            locale="ro-MD",
            marketing_consent=True,
            referral_code="BO-X7Q2",
            ip_address="203.0.113.9",
            device_id="dev-1",
        ),
        OrderCompletedV1(
            customer_id="ana",
            order_id="o-1",
            total=EUR,
            items=[
                OrderItem(
                    sku="tea",
                    name="Tea",
                    quantity=2,
                    unit_price=Money(amount=Decimal("21.25"), currency="EUR"),
                )
            ],
            completed_at=hour(0),
            channel="web",
        ),
        RewardGrantedV1(
            customer_id="ana",
            reward_id="rw-1",
            kind="earn",
            points=40,
            balance=BALANCE,
            occurred_at=hour(1),
            status="pending",
            reason="purchase",
            source_event_id="e-o-1",
            order_id="o-1",
        ),
        MessageSentV1(**message, message_id="m-1", occurred_at=hour(2), locale="ro", template="order_thanks"),
        TierChangedV1(
            customer_id="ana",
            previous_tier="member",
            tier="key_client",
            trailing_revenue=EUR,
            occurred_at=hour(3),
        ),
        CodeIssuedV1(
            customer_id="ana",
            code="ANA-7K2Q",
            share_url="https://share.example.com/r/ANA-7K2Q",
            occurred_at=hour(4),
        ),
        ReferralAttributedV1(**referral, code="ANA-7K2Q", source="registration", occurred_at=hour(5)),
        ReferralQualifiedV1(
            **referral,
            order_id="o-b1",
            order_total=EUR,
            hold_until=hour(6 + 24 * 14),
            occurred_at=hour(6),
            decided_by="support-desk",
        ),
        RewardReleasedV1(
            customer_id="ana", reward_id="rw-1", kind="earn", points=40, balance=BALANCE, occurred_at=hour(7)
        ),
        OrderRefundedV1(
            customer_id="ana",
            refund_id="rf-1",
            order_id="o-1",
            amount=EUR,
            reason="damaged",
            refunded_at=hour(8),
        ),
        RewardRevokedV1(
            customer_id="ana",
            reward_id="rw-1",
            kind="earn",
            points=40,
            balance=BALANCE,
            occurred_at=hour(9),
            reason="order_fully_refunded",
            order_id="o-1",
            refund_id="rf-1",
        ),
        ReferralReversedV1(**referral, order_id="o-b1", reason="order_fully_refunded", occurred_at=hour(10)),
        ReferralRejectedV1(**referral, reason="self_referral", occurred_at=hour(11), decided_by="rules"),
        RewardWithheldV1(
            customer_id="ana",
            kind="compensation",
            reason="budget_exhausted",
            credit=EUR,
            occurred_at=hour(12),
        ),
        RewardRedeemedV1(
            customer_id="ana",
            redemption_id="rd-1",
            points=100,
            coupon_code="SECRET-COUPON",
            coupon_value=EUR,
            balance=BALANCE,
            occurred_at=hour(13),
        ),
        PointsExpiringV1(
            customer_id="ana", points=20, expires_at=hour(24 * 30), balance=BALANCE, occurred_at=hour(14)
        ),
        MessageFailedV1(
            **message,
            message_id="m-2",
            occurred_at=hour(15),
            error="SMTPRecipientRefused: smtp 550",
            attempts=3,
        ),
        MessageSuppressedV1(**message, message_id="m-3", occurred_at=hour(16), reason="no_consent"),
    ]
