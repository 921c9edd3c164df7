"""Qualification: is the friend's first order the one that earns the referral, and does a
refund undo it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from referrals.rules import AttributionRules, QualificationRules

__all__ = [
    "OrderFacts",
    "Problem",
    "hold_end",
    "qualification_problem",
    "reversal_reason",
]


@dataclass(frozen=True)
class OrderFacts:
    """An order as qualification sees it: total, what was refunded so far, and when."""

    order_id: str
    completed_at: datetime
    amount: Decimal
    currency: str
    refunded: Decimal = Decimal(0)
    payment_fingerprint: str | None = None

    @property
    def net(self) -> Decimal:
        """What the customer kept paying for."""
        return max(self.amount - self.refunded, Decimal(0))


@dataclass(frozen=True)
class Problem:
    """Why a referral does not qualify: a stable reason code and a sentence."""

    reason: str
    detail: str


def _minimum(order: OrderFacts, rules: QualificationRules) -> Decimal:
    return rules.minimum_order.get(order.currency, Decimal(0))


def qualification_problem(
    first_order: OrderFacts,
    *,
    attributed_at: datetime,
    attributing_order_id: str | None,
    attribution: AttributionRules,
    qualification: QualificationRules,
) -> Problem | None:
    """None when the friend's first order qualifies the referral, else the reason it does not.

    `attributing_order_id` is the order whose checkout code attributed the friend (None for a
    code given at registration); the first order must be that one, or come after attribution."""
    if attributing_order_id is not None and first_order.order_id != attributing_order_id:
        return Problem("not_first_order", "the friend had ordered before the code was applied")
    if attributing_order_id is None and first_order.completed_at < attributed_at:
        return Problem("not_first_order", "the friend had ordered before signing up with the code")
    if first_order.completed_at - attributed_at > timedelta(days=attribution.window_days):
        return Problem(
            "outside_window",
            f"the first order came more than {attribution.window_days} days after attribution",
        )
    if first_order.refunded > 0 and first_order.net == 0:
        return Problem("order_refunded", "the first order was refunded in full")
    minimum = _minimum(first_order, qualification)
    if first_order.net < minimum:
        return Problem(
            "below_minimum_order",
            f"the first order ({first_order.net} {first_order.currency}) is below the minimum "
            f"of {minimum} {first_order.currency}",
        )
    return None


def hold_end(first_order: OrderFacts, rules: QualificationRules) -> datetime:
    """When the return window of the qualifying order closes and rewards may be released."""
    return first_order.completed_at + timedelta(days=rules.hold_days)


def reversal_reason(order: OrderFacts, rules: QualificationRules) -> str | None:
    """After a refund of the qualifying order: the reason the referral is undone, or None when
    what is left still qualifies."""
    if order.net == 0:
        return "order_fully_refunded"
    if order.net < _minimum(order, rules):
        return "order_refunded_below_minimum"
    return None
