"""The customer's timeline as support sees it, from the events the other services publish.

Each event becomes a line in the timeline of each customer it concerns: a sign-up, an order, a refund, a
reward granted, held, released, clawed back, withheld or redeemed, a tier change, a referral made
(the advocate's) or received (the friend's) with its state and reason, a message sent, failed or
suppressed. A line keeps the facts an agent answers with (amounts, reason codes, states, who
decided) and no one's contact data; the other customer of a referral is a column of its own, so
that erasing them reaches it. Feedback's own answers and cases join the lines when a page reads
them (feedback.queries), they are not copied here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

__all__ = ["TIMELINE_EVENTS", "Line", "lines_of"]

TIMELINE_EVENTS: tuple[type[Event], ...] = (
    CustomerRegisteredV1,
    OrderCompletedV1,
    OrderRefundedV1,
    RewardGrantedV1,
    RewardReleasedV1,
    RewardRevokedV1,
    RewardRedeemedV1,
    RewardWithheldV1,
    PointsExpiringV1,
    TierChangedV1,
    CodeIssuedV1,
    ReferralAttributedV1,
    ReferralQualifiedV1,
    ReferralRejectedV1,
    ReferralReversedV1,
    MessageSentV1,
    MessageFailedV1,
    MessageSuppressedV1,
)
"""The events a timeline shows (besides feedback's own answers and cases)."""


@dataclass(frozen=True)
class Line:
    """One line of one customer's timeline."""

    customer_id: str
    at: datetime
    kind: str
    detail: dict[str, Any]
    other_customer_id: str | None = None


def _money(value: Money | None) -> dict[str, str] | None:
    return None if value is None else {"amount": str(value.amount), "currency": value.currency}


def _balance(balance: Balance) -> dict[str, int]:
    """The points after the change (credit balances are on the ledger, not repeated per line)."""
    return {"available": balance.points_available, "pending": balance.points_pending}


def _given(**detail: Any) -> dict[str, Any]:
    """The facts that are there (None left out), as JSON."""
    return {key: value for key, value in detail.items() if value is not None}


def _referral(
    event: ReferralAttributedV1 | ReferralQualifiedV1 | ReferralRejectedV1 | ReferralReversedV1,
    kind: str,
    **detail: Any,
) -> list[Line]:
    """A referral's step in both timelines: the advocate's (a referral made) and the friend's."""
    facts = _given(referral_id=event.referral_id, **detail)
    return [
        Line(
            event.advocate_customer_id,
            event.occurred_at,
            kind,
            {**facts, "role": "advocate"},
            event.customer_id,
        ),
        Line(
            event.customer_id,
            event.occurred_at,
            kind,
            {**facts, "role": "friend"},
            event.advocate_customer_id,
        ),
    ]


def lines_of(event: Event) -> list[Line]:
    """The timeline lines an event makes; none for an event the timeline does not show."""
    match event:
        case CustomerRegisteredV1():  # not the address, name, birthday, IP or device
            detail = _given(
                locale=event.locale,
                marketing_consent=event.marketing_consent,
                referral_code=event.referral_code,
            )
            return [Line(event.customer_id, event.registered_at, "registered", detail)]
        case OrderCompletedV1():
            detail = _given(
                order_id=event.order_id,
                total=_money(event.total),
                items=None if event.items is None else len(event.items),
                channel=event.channel,
            )
            return [Line(event.customer_id, event.completed_at, "order_completed", detail)]
        case OrderRefundedV1():
            detail = _given(
                order_id=event.order_id,
                refund_id=event.refund_id,
                amount=_money(event.amount),
                reason=event.reason,
            )
            return [Line(event.customer_id, event.refunded_at, "order_refunded", detail)]
        case RewardGrantedV1():
            detail = _given(
                kind=event.kind,
                points=event.points,
                credit=_money(event.credit),
                status=event.status,
                reason=event.reason,
                order_id=event.order_id,
                balance=_balance(event.balance),
            )
            return [Line(event.customer_id, event.occurred_at, "reward_granted", detail)]
        case RewardReleasedV1():
            detail = _given(
                kind=event.kind,
                points=event.points,
                credit=_money(event.credit),
                balance=_balance(event.balance),
            )
            return [Line(event.customer_id, event.occurred_at, "reward_released", detail)]
        case RewardRevokedV1():
            detail = _given(
                kind=event.kind,
                points=event.points,
                credit=_money(event.credit),
                reason=event.reason,
                order_id=event.order_id,
                refund_id=event.refund_id,
                balance=_balance(event.balance),
            )
            return [Line(event.customer_id, event.occurred_at, "reward_revoked", detail)]
        case RewardRedeemedV1():
            # the coupon code is a bearer credential: the timeline says that one was issued, not which
            detail = _given(
                points=event.points,
                credit=_money(event.credit),
                coupon_value=_money(event.coupon_value),
                balance=_balance(event.balance),
            )
            return [Line(event.customer_id, event.occurred_at, "reward_redeemed", detail)]
        case RewardWithheldV1():
            detail = _given(
                kind=event.kind,
                reason=event.reason,
                points=event.points,
                credit=_money(event.credit),
                case_id=event.case_id,
            )
            return [Line(event.customer_id, event.occurred_at, "reward_withheld", detail)]
        case PointsExpiringV1():
            detail = _given(
                points=event.points, expires_at=event.expires_at.isoformat(), balance=_balance(event.balance)
            )
            return [Line(event.customer_id, event.occurred_at, "points_expiring", detail)]
        case TierChangedV1():
            detail = _given(previous_tier=event.previous_tier, tier=event.tier, reason=event.reason)
            return [Line(event.customer_id, event.occurred_at, "tier_changed", detail)]
        case CodeIssuedV1():
            return [Line(event.customer_id, event.occurred_at, "referral_code_issued", {"code": event.code})]
        case ReferralAttributedV1():
            return _referral(event, "referral_attributed", source=event.source)
        case ReferralQualifiedV1():
            return _referral(
                event,
                "referral_qualified",
                order_id=event.order_id,
                decided_by=event.decided_by,
                hold_until=event.hold_until and event.hold_until.isoformat(),
            )
        case ReferralRejectedV1():
            return _referral(event, "referral_rejected", reason=event.reason, decided_by=event.decided_by)
        case ReferralReversedV1():
            return _referral(event, "referral_reversed", reason=event.reason, order_id=event.order_id)
        case MessageSentV1():
            detail = _given(
                kind=event.kind, channel=event.channel, template=event.template, locale=event.locale
            )
            return [Line(event.customer_id, event.occurred_at, "message_sent", detail)]
        case MessageFailedV1():
            detail = _given(
                kind=event.kind, channel=event.channel, error=event.error, attempts=event.attempts
            )
            return [Line(event.customer_id, event.occurred_at, "message_failed", detail)]
        case MessageSuppressedV1():
            detail = _given(kind=event.kind, channel=event.channel, reason=event.reason)
            return [Line(event.customer_id, event.occurred_at, "message_suppressed", detail)]
    return []
