"""Unit tests of earning and the refund chain's arithmetic."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rewards.domain.earning import Earning, expiry_date, points_for_order, release_date
from rewards.domain.refunds import clawback_points, net_amount
from rewards.domain.tiers import (
    KEY_CLIENT,
    MEMBER,
    REPEAT_BUYER,
)
from rewards.rules import EarningRules

from ..domain_rules import PROPERTY, RULES, D

# --- earning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "tier", "points", "reason"),
    [
        ("42.50", "EUR", MEMBER, 42, "purchase"),
        ("42.99", "EUR", MEMBER, 42, "purchase"),  # floor: a fraction of a unit earns nothing
        ("100", "EUR", REPEAT_BUYER, 100, "purchase"),  # multiplier 1 is the plain purchase
        ("100", "EUR", KEY_CLIENT, 150, "purchase_key_client"),
        ("42.50", "EUR", KEY_CLIENT, 63, "purchase_key_client"),  # 63.75, floored
        ("100", "EUR", "tier_without_multiplier", 100, "purchase"),
        ("1000", "SEK", MEMBER, 100, "purchase"),
        ("19", "SEK", MEMBER, 1, "purchase"),
        ("10", "RON", MEMBER, 2, "purchase"),
        ("5.00", "EUR", MEMBER, 5, "purchase"),  # exactly the minimum order earns
        ("4.99", "EUR", MEMBER, 0, "below_minimum_order"),
        ("4.99", "EUR", KEY_CLIENT, 0, "below_minimum_order"),  # the multiplier does not lift it
        ("9.99", "SEK", MEMBER, 0, "below_minimum_order"),  # no minimum in SEK, but rounds to 0
        ("0", "EUR", MEMBER, 0, "below_minimum_order"),
        ("0", "SEK", MEMBER, 0, "below_minimum_order"),
        ("-10", "SEK", MEMBER, 0, "below_minimum_order"),
        ("50", "JPY", MEMBER, 0, "currency_not_earning"),
        ("0", "JPY", KEY_CLIENT, 0, "currency_not_earning"),
    ],
)
def test_points_for_order(amount: str, currency: str, tier: str, points: int, reason: str) -> None:
    assert points_for_order(D(amount), currency, tier, RULES.earning) == Earning(points, reason)


@pytest.mark.parametrize(
    ("amount", "tier", "floor", "half_up", "ceil"),
    [
        ("10.00", MEMBER, 10, 10, 10),
        ("10.01", MEMBER, 10, 10, 11),
        ("10.49", MEMBER, 10, 10, 11),
        ("10.50", MEMBER, 10, 11, 11),
        ("10.99", MEMBER, 10, 11, 11),
        ("3.30", KEY_CLIENT, 4, 5, 5),  # 4.95: rounding applies after the multiplier
        ("0.01", MEMBER, 0, 0, 1),
    ],
)
def test_rounding_modes(amount: str, tier: str, floor: int, half_up: int, ceil: int) -> None:
    for rounding, points in (("floor", floor), ("half_up", half_up), ("ceil", ceil)):
        rules = EarningRules(
            points_per_unit={"EUR": D(1)}, rounding=rounding, tier_multipliers={"key_client": D("1.5")}
        )
        assert points_for_order(D(amount), "EUR", tier, rules).points == points, rounding


@pytest.mark.parametrize(
    ("amount", "currency", "tier", "rounding", "points"),
    [
        ("99999999999999.9999", "EUR", MEMBER, "floor", 99999999999999),
        ("99999999999999.9999", "EUR", KEY_CLIENT, "floor", 149999999999999),
        ("99999999999999.5000", "EUR", MEMBER, "half_up", 100000000000000),
        ("12345678901.91", "SEK", MEMBER, "floor", 1234567890),
        ("12345678901.91", "SEK", KEY_CLIENT, "ceil", 1851851836),  # 1851851835.2865
    ],
)
def test_points_are_exact_for_large_amounts(
    amount: str, currency: str, tier: str, rounding: str, points: int
) -> None:
    rules = RULES.earning.model_copy(update={"rounding": rounding})
    assert points_for_order(D(amount), currency, tier, rules).points == points


@pytest.mark.parametrize(
    ("completed_at", "hold_days", "released_at"),
    [
        (datetime(2026, 11, 1, 10, tzinfo=UTC), 14, datetime(2026, 11, 15, 10, tzinfo=UTC)),
        (datetime(2026, 12, 25, 23, 59, tzinfo=UTC), 14, datetime(2027, 1, 8, 23, 59, tzinfo=UTC)),
        (datetime(2026, 11, 1, 10, tzinfo=UTC), 0, datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ],
)
def test_release_date_is_the_end_of_the_return_window(
    completed_at: datetime, hold_days: int, released_at: datetime
) -> None:
    rules = RULES.earning.model_copy(update={"hold_days": hold_days})
    assert release_date(completed_at, rules) == released_at


@pytest.mark.parametrize(
    ("granted_at", "expires_at"),
    [
        (datetime(2026, 11, 15, 10, tzinfo=UTC), datetime(2027, 11, 15, 10, tzinfo=UTC)),
        (datetime(2027, 3, 1, 0, tzinfo=UTC), datetime(2028, 2, 29, 0, tzinfo=UTC)),  # days, not years
    ],
)
def test_expiry_date_is_after_days_after_the_grant(granted_at: datetime, expires_at: datetime) -> None:
    assert expiry_date(granted_at, RULES.earning) == expires_at


# --- refunds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granted", "total", "refunded_after", "clawed_before", "points"),
    [
        (100, "100", "50", 0, 50),
        (100, "100", "100", 0, 100),
        (100, "100", "150", 0, 100),  # over-refund: capped at the grant
        (100, "100", "150", 60, 40),
        (100, "100", "100", 100, 0),  # already clawed back in full
        (100, "100", "50", 70, 0),  # never negative
        (42, "42.50", "10.00", 0, 10),  # 9.88
        (63, "42.50", "21.25", 0, 32),  # 31.5: half up
        (1, "2", "1", 0, 1),  # 0.5: half up
        (3, "90", "0.01", 0, 0),
        (100, "0", "0", 0, 100),  # zero total: any refund takes the whole grant
        (0, "100", "100", 0, 0),
        (-5, "100", "100", 0, 0),
    ],
)
def test_clawback_points(
    granted: int, total: str, refunded_after: str, clawed_before: int, points: int
) -> None:
    assert clawback_points(granted, D(total), D(refunded_after), clawed_before) == points


def _claw_cumulatively(granted: int, total: Decimal, refunds: list[Decimal]) -> list[int]:
    """The clawback of each refund in turn, as the refund chain computes them."""
    steps: list[int] = []
    refunded = Decimal(0)
    for refund in refunds:
        refunded += refund
        steps.append(clawback_points(granted, total, refunded, sum(steps)))
    return steps


@pytest.mark.parametrize(
    ("granted", "total", "refunds", "steps"),
    [
        (100, "30", ["10", "10", "10"], [33, 34, 33]),
        (100, "90", ["30", "30", "30"], [33, 34, 33]),
        (10, "3", ["1", "1", "1"], [3, 4, 3]),
        (100, "100", ["60", "60"], [60, 40]),  # the second refund is capped
        (100, "100", ["5", "20", "5"], [5, 20, 5]),
        (100, "100", ["0.40", "0.40", "0.40"], [0, 1, 0]),  # small refunds add up instead of vanishing
    ],
)
def test_partial_refunds_add_up_to_at_most_the_grant(
    granted: int, total: str, refunds: list[str], steps: list[int]
) -> None:
    amounts = [D(refund) for refund in refunds]
    assert _claw_cumulatively(granted, D(total), amounts) == steps
    assert sum(_claw_cumulatively(granted, D(total), amounts[::-1])) == sum(steps)


@pytest.mark.parametrize(
    ("granted", "total", "refunded_after", "points"),
    [(14, "14.00", "0.50", 1), (14, "14.00", "1.50", 2), (17, "17.00", "2.50", 3), (14, "28", "1", 1)],
)
def test_clawback_of_an_exact_half_rounds_up(
    granted: int, total: str, refunded_after: str, points: int
) -> None:
    assert clawback_points(granted, D(total), D(refunded_after), 0) == points


@pytest.mark.parametrize(
    ("total", "refunded", "net"),
    [
        ("100", "30", "70"),
        ("42.50", "0.01", "42.49"),
        ("100", "100", "0"),
        ("100", "130", "0"),
        ("0", "0", "0"),
    ],
)
def test_net_amount_is_never_negative(total: str, refunded: str, net: str) -> None:
    assert net_amount(D(total), D(refunded)) == D(net)


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


_cents = st.integers(min_value=1, max_value=1_000_000).map(lambda cents: Decimal(cents).scaleb(-2))
_refunds = st.lists(st.integers(0, 1_000_000).map(lambda c: Decimal(c).scaleb(-2)), max_size=6)


@PROPERTY
@given(granted=st.integers(0, 100_000), total=_cents, refunds=_refunds, data=st.data())
def test_property_cumulative_clawbacks_stay_within_the_grant_whatever_the_order(
    granted: int, total: Decimal, refunds: list[Decimal], data: st.DataObject
) -> None:
    steps = _claw_cumulatively(granted, total, refunds)
    clawed = sum(steps)
    assert all(step >= 0 for step in steps)
    assert clawed <= granted
    exact = granted * min(Fraction(1), Fraction(sum(refunds, Decimal(0))) / Fraction(total))
    assert abs(clawed - exact) <= Fraction(1, 2)
    shuffled = data.draw(st.permutations(refunds))
    assert sum(_claw_cumulatively(granted, total, shuffled)) == clawed
    assert sum(_claw_cumulatively(granted, total, [sum(refunds, Decimal(0))])) == clawed


@PROPERTY
@given(granted=st.integers(0, 100_000), total=_cents, refunds=_refunds)
@example(granted=14, total=Decimal("14.00"), refunds=[Decimal("0.50"), Decimal("1.00")])
def test_property_cumulative_clawbacks_are_the_refunded_share_rounded_half_up(
    granted: int, total: Decimal, refunds: list[Decimal]
) -> None:
    share = min(Fraction(1), Fraction(sum(refunds, Decimal(0))) / Fraction(total))
    assert sum(_claw_cumulatively(granted, total, refunds)) == _round_half_up(granted * share)
