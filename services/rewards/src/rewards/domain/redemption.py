"""Redemption: points or store credit turned into a coupon code, never more than is there."""

from __future__ import annotations

from decimal import Decimal

from rewards.rules import RedemptionRules

__all__ = ["COUPON_ALPHABET", "RedemptionRefused", "coupon_code", "coupon_value_of_points", "refusal"]

COUPON_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud, typed by hand


class RedemptionRefused(Exception):
    """Why a redemption cannot be made: a stable code and a sentence."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def coupon_value_of_points(points: int, currency: str, rules: RedemptionRules) -> Decimal:
    """What `points` are worth as a coupon in `currency`."""
    value = rules.point_value.get(currency)
    if value is None:
        raise RedemptionRefused("currency_not_redeemable", f"points cannot be redeemed in {currency}")
    if points < rules.minimum_points:
        raise RedemptionRefused(
            "below_minimum_redemption", f"at least {rules.minimum_points} points per redemption"
        )
    return (points * value).quantize(Decimal("0.01"))


def refusal(requested: Decimal, available: Decimal, unit: str) -> RedemptionRefused | None:
    """A refusal when `requested` exceeds what is available (no overdraw), else None."""
    if requested > available:
        return RedemptionRefused(
            "insufficient_balance", f"requested {requested} {unit}, only {available} {unit} available"
        )
    return None


def coupon_code(random: bytes, prefix: str = "WOM") -> str:
    """A readable coupon code such as `WOM-7K3Q-9XPA` from 8 random bytes."""
    letters = "".join(COUPON_ALPHABET[byte % len(COUPON_ALPHABET)] for byte in random[:8])
    return f"{prefix}-{letters[:4]}-{letters[4:8]}"
