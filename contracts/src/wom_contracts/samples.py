"""One valid instance of every event type, for tests and documentation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from wom_contracts.base import Event
from wom_contracts.registry import model_for
from wom_contracts.types import Money

__all__ = ["sample"]

_AT = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
_EUR = Money(amount=Decimal("42.50"), currency="EUR")
_BALANCE = {"points_available": 120, "points_pending": 42}

_DATA: dict[str, dict[str, Any]] = {
    "commerce.customer.registered.v1": {
        "email": "ana@example.com", "first_name": "Ana", "last_name": "Rusu", "locale": "ro-MD",
        "timezone": "Europe/Chisinau", "birthday": date(1990, 4, 2), "registered_at": _AT,
        "referral_code": "MARIA-7K3Q", "marketing_consent": True, "ip_address": "203.0.113.7",
        "device_id": "dev-1",
    },
    "commerce.order.completed.v1": {
        "order_id": "o-1", "total": _EUR, "completed_at": _AT, "referral_code": "MARIA-7K3Q",
        "items": [{"sku": "MUG-1", "name": "Mug", "quantity": 2,
                   "unit_price": Money(amount=Decimal("21.25"), currency="EUR")}],
        "payment_fingerprint": "fp-9a8b", "channel": "web",
    },
    "commerce.order.refunded.v1": {
        "refund_id": "rf-1", "order_id": "o-1", "amount": _EUR, "reason": "damaged",
        "refunded_at": _AT,
    },
    "commerce.customer.erased.v1": {"requested_at": _AT},
    "feedback.response.submitted.v1": {
        "response_id": "resp-1", "order_id": "o-1", "kind": "nps", "score": 10,
        "comment": "Foarte mulțumită!", "locale": "ro", "channel": "email", "submitted_at": _AT,
    },
    "referrals.code.issued.v1": {
        "code": "ANA-7K3Q", "share_url": "https://shop.example.com/r/ANA-7K3Q", "occurred_at": _AT,
    },
    "referrals.referral.attributed.v1": {
        "referral_id": "ref-1", "advocate_customer_id": "maria", "code": "MARIA-7K3Q",
        "source": "registration", "occurred_at": _AT,
    },
    "referrals.referral.qualified.v1": {
        "referral_id": "ref-1", "advocate_customer_id": "maria", "order_id": "o-1",
        "order_total": _EUR, "hold_until": _AT, "occurred_at": _AT,
    },
    "referrals.referral.rejected.v1": {
        "referral_id": "ref-1", "advocate_customer_id": "maria",
        "reason": "self_referral_same_payment", "detail": "same payment fingerprint",
        "occurred_at": _AT,
    },
    "referrals.referral.reversed.v1": {
        "referral_id": "ref-1", "advocate_customer_id": "maria", "order_id": "o-1",
        "reason": "order_refunded", "occurred_at": _AT,
    },
    "rewards.reward.granted.v1": {
        "reward_id": "rw-1", "kind": "earn", "status": "pending", "points": 42,
        "reason": "purchase", "source_event_id": "evt-1", "order_id": "o-1", "hold_until": _AT,
        "balance": _BALANCE, "occurred_at": _AT,
    },
    "rewards.reward.released.v1": {
        "reward_id": "rw-1", "kind": "earn", "points": 42, "balance": _BALANCE, "occurred_at": _AT,
    },
    "rewards.reward.revoked.v1": {
        "reward_id": "rw-1", "kind": "earn", "points": 42, "reason": "order_refunded",
        "order_id": "o-1", "refund_id": "rf-1", "balance": _BALANCE, "occurred_at": _AT,
    },
    "rewards.tier.changed.v1": {
        "previous_tier": "repeat_buyer", "tier": "key_client", "trailing_revenue": _EUR,
        "percentile": 93.5, "occurred_at": _AT, "reason": "entered_top_percent",
        "threshold": Money(amount=Decimal("40.00"), currency="EUR"),
    },
    "rewards.reward.withheld.v1": {
        "kind": "referral_advocate", "reason": "advocate_cap_reached", "points": 500,
        "referral_id": "ref-1", "occurred_at": _AT,
    },
    "rewards.reward.redeemed.v1": {
        "redemption_id": "rd-1", "points": 500, "coupon_code": "WOM-7K3Q-9XPA",
        "coupon_value": Money(amount=Decimal("5.00"), currency="EUR"), "balance": _BALANCE,
        "occurred_at": _AT,
    },
    "rewards.points.expiring.v1": {
        "points": 30, "expires_at": _AT, "balance": _BALANCE, "occurred_at": _AT,
    },
    "feedback.promoter.identified.v1": {
        "response_id": "resp-1", "kind": "nps", "score": 10, "locale": "ro", "occurred_at": _AT,
    },
    "feedback.case.opened.v1": {
        "case_id": "case-1", "response_id": "resp-2", "priority": "P1", "queue": "vip-support",
        "sla_due_at": _AT, "kind": "nps", "score": 2, "signals": ["damaged_goods"],
        "key_client": True, "occurred_at": _AT,
    },
    "feedback.case.resolved.v1": {
        "case_id": "case-1", "resolution": "refunded_and_apologised", "note": "called the client",
        "compensation": _EUR, "resolved_by": "agent-7", "occurred_at": _AT,
    },
    "feedback.case.replied.v1": {
        "case_id": "case-1", "reply_id": "reply-1", "agent_name": "Olga",
        "message": "I'm so sorry about the broken mug. A new one left today.", "occurred_at": _AT,
    },
    "feedback.case.breached.v1": {
        "case_id": "case-1", "priority": "P1", "queue": "vip-support", "sla_due_at": _AT,
        "occurred_at": _AT,
    },
    "outreach.message.sent.v1": {
        "message_id": "m-1", "kind": "reward_granted", "channel": "email", "locale": "ro",
        "template": "reward_granted/ro", "cause_event_id": "evt-2", "occurred_at": _AT,
    },
    "outreach.message.failed.v1": {
        "message_id": "m-1", "kind": "reward_granted", "channel": "email", "locale": "ro",
        "error": "SMTPConnectError", "attempts": 6, "cause_event_id": "evt-2", "occurred_at": _AT,
    },
    "outreach.message.suppressed.v1": {
        "message_id": "m-2", "kind": "referral_ask", "channel": "email",
        "reason": "no_marketing_consent", "cause_event_id": "evt-3", "occurred_at": _AT,
    },
}  # fmt: skip


def sample(event_type: str, customer_id: str = "ana") -> Event:
    """A valid, fully populated instance of `event_type`."""
    return model_for(event_type).model_validate({"customer_id": customer_id, **_DATA[event_type]})
