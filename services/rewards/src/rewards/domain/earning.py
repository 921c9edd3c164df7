"""Points for purchases: rate per currency, tier multiplier, minimum order, rounding, hold, expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from rewards.rules import EarningRules

__all__ = ["Earning", "expiry_date", "points_for_order", "release_date"]

_ROUNDING = {"floor": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}


@dataclass(frozen=True)
class Earning:
    """What a purchase earns, and the reason code that explains it."""

    points: int
    reason: str


def points_for_order(amount: Decimal, currency: str, tier: str, rules: EarningRules) -> Earning:
    """Points for an order of `amount` in `currency` by a customer in `tier`: amount × rate ×
    the tier's multiplier, rounded as configured; nothing below the minimum order."""
    rate = rules.points_per_unit.get(currency)
    if rate is None:
        return Earning(0, "currency_not_earning")
    minimum = rules.minimum_order.get(currency)
    if amount <= 0 or (minimum is not None and amount < minimum):
        return Earning(0, "below_minimum_order")
    multiplier = rules.tier_multipliers.get(tier, Decimal(1))  # type: ignore[call-overload]
    points = int((amount * rate * multiplier).to_integral_value(rounding=_ROUNDING[rules.rounding]))
    if points <= 0:
        return Earning(0, "below_minimum_order")
    return Earning(points, "purchase" if multiplier == 1 else f"purchase_{tier}")


def release_date(completed_at: datetime, rules: EarningRules) -> datetime:
    """When points of a purchase stop being pending: the end of the return window."""
    return completed_at + timedelta(days=rules.hold_days)


def expiry_date(granted_at: datetime, rules: EarningRules) -> datetime:
    """When points granted at `granted_at` expire unless used."""
    return granted_at + timedelta(days=rules.expiry.after_days)
