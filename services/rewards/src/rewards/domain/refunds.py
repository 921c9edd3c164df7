"""The refund chain: a refund claws back its share of the order's points, never more."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["clawback_points", "net_amount"]


def clawback_points(granted: int, order_total: Decimal, refunded_after: Decimal, clawed_before: int) -> int:
    """Points to claw back now, so that everything clawed back for the order is its refunded
    share of the grant: partial refunds add up to at most the grant, whatever their order."""
    if granted <= 0:
        return 0
    if order_total <= 0 or refunded_after >= order_total:
        return max(0, granted - clawed_before)
    # multiply before dividing: an exact half stays exact and rounds up, as it should
    target = min(
        granted, int((granted * refunded_after / order_total).to_integral_value(rounding=ROUND_HALF_UP))
    )
    return max(0, target - clawed_before)


def net_amount(total: Decimal, refunded: Decimal) -> Decimal:
    """What the customer finally paid for an order: the total less refunds, never below zero."""
    return max(Decimal(0), total - refunded)
