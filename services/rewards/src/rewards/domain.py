"""Pure earning rules: no I/O, no framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

__all__ = ["EarningRules", "points_for_order", "release_date"]


@dataclass(frozen=True)
class EarningRules:
    """Points per whole currency unit for each currency, and the hold (return window)."""

    points_per_unit: dict[str, Decimal]
    hold: timedelta


def points_for_order(amount: Decimal, currency: str, rules: EarningRules) -> int:
    """Points a purchase earns: amount × rate, rounded down; 0 for a currency without a rate."""
    rate = rules.points_per_unit.get(currency)
    if rate is None or amount <= 0:
        return 0
    return int((amount * rate).to_integral_value(rounding=ROUND_FLOOR))


def release_date(completed_at: datetime, rules: EarningRules) -> datetime:
    """When points of a purchase stop being pending: the end of the return window."""
    return completed_at + rules.hold
