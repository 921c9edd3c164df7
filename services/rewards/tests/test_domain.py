"""Unit tests of the rewards domain: pure functions, explicit rules, no I/O."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from rewards.domain.balances import Balances
from rewards.domain.birthdays import birthday_in, is_birthday, local_date
from rewards.domain.compensation import compensation_withheld_reason
from rewards.domain.earning import Earning, expiry_date, points_for_order, release_date
from rewards.domain.expiry import Debit, Lot, expiring, remaining_by_lot
from rewards.domain.redemption import (
    COUPON_ALPHABET,
    RedemptionRefused,
    coupon_code,
    coupon_value_of_points,
    refusal,
)
from rewards.domain.referral_rewards import BudgetUse, RewardValue, reward_value, withheld_reason
from rewards.domain.refunds import clawback_points, net_amount
from rewards.domain.tiers import (
    KEY_CLIENT,
    MEMBER,
    REPEAT_BUYER,
    Position,
    Ranking,
    TierState,
    next_tier,
    position_of,
    rank_customers,
)
from rewards.rules import CompensationRules, EarningRules, ReferralRewardRule, Rules, TierRules
from wom_contracts import Balance, Money

try:  # the dev group installs hypothesis; without it only the property tests are skipped
    from hypothesis import example, given, settings
    from hypothesis import strategies as st
except ModuleNotFoundError:  # pragma: no cover
    given = None  # type: ignore[assignment]

# The rules the tables below are written against: explicit, so a change to the shipped default
# file does not silently change what these tests mean.
RULES_DATA: dict[str, Any] = {
    "reporting_currency": "EUR",
    "exchange_rates": {"EUR": "1", "USD": "0.92", "SEK": "0.087"},
    "earning": {
        "points_per_unit": {"EUR": "1", "SEK": "0.1", "RON": "0.2"},
        "rounding": "floor",
        "minimum_order": {"EUR": "5.00"},
        "tier_multipliers": {"member": "1", "repeat_buyer": "1", "key_client": "1.5"},
        "hold_days": 14,
        "expiry": {"after_days": 365},
    },
    "referrals": {
        "advocate": {"type": "points", "points": 500},
        "friend": {"type": "credit", "credit": {"amount": "10.00", "currency": "EUR"}},
        "cap_per_advocate": {"count": 10, "period_days": 30},
        "budget": {"period": "month", "points": 1000, "credit": "100.00"},
    },
    "tiers": {
        "key_client": {"top_percent": 20, "downgrade_grace_days": 30},
        "repeat_buyer": {"min_orders": 2},
    },
    "compensation": {"monthly_budget": {"EUR": "500.00"}},
    "redemption": {"point_value": {"EUR": "0.01", "SEK": "0.1"}, "minimum_points": 100},
}
RULES = Rules.model_validate(RULES_DATA)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
D = Decimal
PROPERTY = None if given is None else settings(max_examples=100, deadline=None, database=None)


def _referral_rules(**referrals: Any) -> Rules:
    return Rules.model_validate({**RULES_DATA, "referrals": {**RULES_DATA["referrals"], **referrals}})


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


if given is not None:
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


# --- expiry ----------------------------------------------------------------------------------


def _lot(entry_id: str, points: int, granted: str, expires: str) -> Lot:
    return Lot(
        entry_id,
        points,
        datetime.fromisoformat(granted).replace(tzinfo=UTC),
        datetime.fromisoformat(expires).replace(tzinfo=UTC),
    )


# C was granted last but expires first (granted under rules with a shorter expiry)
LOTS = [
    _lot("A", 100, "2026-01-10", "2027-01-10"),
    _lot("B", 50, "2026-02-10", "2027-02-10"),
    _lot("C", 30, "2026-03-10", "2026-12-31"),
]


@pytest.mark.parametrize(
    ("debits", "remaining"),
    [
        ([], {"C": 30, "A": 100, "B": 50}),
        ([Debit(40)], {"C": 0, "A": 90, "B": 50}),  # loose: the first to expire goes first
        ([Debit(150)], {"C": 0, "A": 0, "B": 30}),
        ([Debit(20, "B")], {"C": 30, "A": 100, "B": 30}),  # aimed: from its own lot
        ([Debit(80, "B")], {"C": 0, "A": 100, "B": 0}),  # overflow of 30 from the oldest (C)
        ([Debit(10, "gone")], {"C": 20, "A": 100, "B": 50}),  # an unknown lot: taken loose
        ([Debit(100, "A"), Debit(40)], {"C": 0, "A": 0, "B": 40}),
        ([Debit(40), Debit(100, "A")], {"C": 0, "A": 0, "B": 40}),  # order of debits irrelevant
        ([Debit(500)], {"C": 0, "A": 0, "B": 0}),
        ([Debit(0), Debit(0, "A")], {"C": 30, "A": 100, "B": 50}),
    ],
)
def test_remaining_by_lot(debits: list[Debit], remaining: dict[str, int]) -> None:
    assert remaining_by_lot(LOTS, debits) == remaining
    assert remaining_by_lot(LOTS[::-1], debits) == remaining


def test_lots_expiring_together_are_spent_in_grant_order_then_by_id() -> None:
    lots = [
        _lot("z", 10, "2026-01-02", "2027-01-01"),
        _lot("b", 10, "2026-01-01", "2027-01-01"),
        _lot("a", 10, "2026-01-01", "2027-01-01"),
    ]
    assert remaining_by_lot(lots, [Debit(15)]) == {"a": 0, "b": 5, "z": 10}


@pytest.mark.parametrize(
    ("debits", "until", "expected"),
    [
        ([], "2026-12-30", []),
        ([], "2026-12-31", [("C", 30)]),  # at the expiry instant
        ([], "2027-01-10", [("C", 30), ("A", 100)]),
        ([], "2030-01-01", [("C", 30), ("A", 100), ("B", 50)]),
        ([Debit(40)], "2027-01-10", [("A", 90)]),  # an empty lot does not expire
        ([Debit(10, "C")], "2026-12-31", [("C", 20)]),
        ([Debit(180)], "2030-01-01", []),
        ([Debit(1000)], "2030-01-01", []),  # nothing expires from a negative balance
    ],
)
def test_expiring(debits: list[Debit], until: str, expected: list[tuple[str, int]]) -> None:
    moment = datetime.fromisoformat(until).replace(tzinfo=UTC)
    assert [(lot.entry_id, points) for lot, points in expiring(LOTS, debits, moment)] == expected


def test_nothing_expires_without_lots() -> None:
    assert expiring([], [Debit(10)], NOW) == []
    assert remaining_by_lot([], [Debit(10)]) == {}


if given is not None:
    _START = datetime(2026, 1, 1, tzinfo=UTC)

    @st.composite
    def _lots_and_debits(draw: st.DrawFn, aimed: bool = True) -> tuple[list[Lot], list[Debit]]:
        specs = draw(
            st.lists(st.tuples(st.integers(1, 1000), st.integers(0, 30), st.integers(0, 30)), max_size=8)
        )
        lots = [
            Lot(f"lot-{i}", points, _START + timedelta(days=g), _START + timedelta(days=g + e))
            for i, (points, g, e) in enumerate(specs)
        ]
        targets = st.sampled_from([None, *(lot.entry_id for lot in lots)]) if aimed else st.none()
        debits = draw(st.lists(st.builds(Debit, st.integers(0, 1500), targets), max_size=8))
        return lots, debits

    @PROPERTY
    @given(case=_lots_and_debits(), days=st.integers(0, 70))
    def test_property_remaining_is_the_balance_and_within_each_lot(
        case: tuple[list[Lot], list[Debit]], days: int
    ) -> None:
        lots, debits = case
        remaining = remaining_by_lot(lots, debits)
        available = max(0, sum(lot.points for lot in lots) - sum(debit.points for debit in debits))
        assert sum(remaining.values()) == available
        assert all(0 <= remaining[lot.entry_id] <= lot.points for lot in lots)
        assert sum(points for _, points in expiring(lots, debits, _START + timedelta(days=days))) <= available

    @PROPERTY
    @given(case=_lots_and_debits(aimed=False))
    def test_property_loose_debits_spend_the_first_to_expire_first(
        case: tuple[list[Lot], list[Debit]],
    ) -> None:
        lots, debits = case
        remaining = remaining_by_lot(lots, debits)
        fifo = sorted(lots, key=lambda lot: (lot.expires_at, lot.granted_at, lot.entry_id))
        left = [remaining[lot.entry_id] for lot in fifo]
        # spent lots, at most one partly spent lot, then untouched lots
        first = next((i for i, points in enumerate(left) if points > 0), len(left))
        assert all(points == 0 for points in left[:first])
        assert all(left[i] == fifo[i].points for i in range(first + 1, len(fifo)))


# --- tiers -----------------------------------------------------------------------------------


def _revenues(*amounts: int | str) -> dict[str, Decimal]:
    return {f"c{i}": D(amount) for i, amount in enumerate(amounts)}


@pytest.mark.parametrize(
    ("revenues", "top_percent", "ranking"),
    [
        (_revenues(*range(10, 101, 10)), "20", Ranking(D(90), 10, 2)),
        (_revenues(30, 20, 10), "20", Ranking(D(30), 3, 1)),  # at least one
        (_revenues(5), "20", Ranking(D(5), 1, 1)),
        (_revenues(100, 90, 90, 90, 50, 40, 30, 20, 10, 5), "20", Ranking(D(90), 10, 4)),  # ties inside
        (_revenues(100, 0, -20, 50), "20", Ranking(D(100), 2, 1)),  # zero and negative not ranked
        (_revenues(*range(10, 101, 10)), "12.5", Ranking(D(90), 10, 2)),  # 1.25 rounds up
        (_revenues(*range(10, 101, 10)), "100", Ranking(D(10), 10, 10)),
        (_revenues(), "20", Ranking(None, 0, 0)),
        (_revenues(0, "-1"), "20", Ranking(None, 0, 0)),
    ],
)
def test_rank_customers(revenues: dict[str, Decimal], top_percent: str, ranking: Ranking) -> None:
    assert rank_customers(revenues, D(top_percent)) == ranking


@pytest.mark.parametrize(
    ("revenue", "better", "ranked", "position"),
    [
        ("100", 0, 10, Position(1, 10, 100.0)),
        ("10", 9, 10, Position(10, 10, 10.0)),
        ("50", 1, 10, Position(2, 10, 90.0)),
        ("5", 2, 3, Position(3, 3, 33.33)),
        ("5", 0, 1, Position(1, 1, 100.0)),
        ("0", 0, 10, None),
        ("-5", 0, 10, None),
        ("10", 0, 0, None),
    ],
)
def test_position_of(revenue: str, better: int, ranked: int, position: Position | None) -> None:
    assert position_of(D(revenue), better, ranked) == position


GRACE_STARTED = NOW - timedelta(days=10)


@pytest.mark.parametrize(
    ("state", "revenue", "orders", "threshold", "after", "reason"),
    [
        (TierState(MEMBER), 1000, 1, 1000, TierState(KEY_CLIENT), "entered_top_percent"),
        (TierState(REPEAT_BUYER), 5000, 3, 1000, TierState(KEY_CLIENT), "entered_top_percent"),
        (TierState(KEY_CLIENT), 1500, 3, 1000, TierState(KEY_CLIENT), None),
        (TierState(MEMBER), 999, 1, 1000, TierState(MEMBER), None),
        (TierState(MEMBER), 100, 2, 1000, TierState(REPEAT_BUYER), "repeat_purchase"),
        (TierState(MEMBER), 0, 2, None, TierState(REPEAT_BUYER), "repeat_purchase"),
        (TierState(REPEAT_BUYER), 100, 3, 1000, TierState(REPEAT_BUYER), None),
        (TierState(REPEAT_BUYER), 100, 1, 1000, TierState(MEMBER), "orders_refunded"),
        # a key client under the line: the grace period starts now, the tier stays
        (TierState(KEY_CLIENT), 999, 5, 1000, TierState(KEY_CLIENT, NOW), None),
        (TierState(KEY_CLIENT), 0, 0, None, TierState(KEY_CLIENT, NOW), None),
        (TierState(KEY_CLIENT, GRACE_STARTED), 999, 5, 1000, TierState(KEY_CLIENT, GRACE_STARTED), None),
        (
            TierState(KEY_CLIENT, NOW - timedelta(days=30) + timedelta(seconds=1)),
            999,
            5,
            1000,
            TierState(KEY_CLIENT, NOW - timedelta(days=30) + timedelta(seconds=1)),
            None,
        ),
        # back above the line during the grace: the grace is cleared, the tier did not change
        (TierState(KEY_CLIENT, GRACE_STARTED), 1000, 5, 1000, TierState(KEY_CLIENT), None),
        # the grace is over: down to what the orders justify
        (
            TierState(KEY_CLIENT, NOW - timedelta(days=30)),
            999,
            2,
            1000,
            TierState(REPEAT_BUYER),
            "left_top_percent_after_grace",
        ),
        (
            TierState(KEY_CLIENT, NOW - timedelta(days=31)),
            999,
            1,
            1000,
            TierState(MEMBER),
            "left_top_percent_after_grace",
        ),
    ],
)
def test_next_tier(
    state: TierState, revenue: int, orders: int, threshold: int | None, after: TierState, reason: str | None
) -> None:
    step = next_tier(
        state,
        revenue=D(revenue),
        orders=orders,
        threshold=None if threshold is None else D(threshold),
        now=NOW,
        rules=RULES.tiers,
    )
    assert (step.state, step.reason) == (after, reason)
    assert step.changed is (reason is not None)


def test_without_a_grace_period_a_key_client_is_downgraded_at_once() -> None:
    rules = TierRules.model_validate({"key_client": {"downgrade_grace_days": 0}})
    step = next_tier(TierState(KEY_CLIENT), revenue=D(1), orders=2, threshold=D(10), now=NOW, rules=rules)
    assert (step.state, step.reason) == (TierState(REPEAT_BUYER), "left_top_percent_after_grace")


@pytest.mark.parametrize(("min_orders", "orders", "tier"), [(3, 2, MEMBER), (3, 3, REPEAT_BUYER)])
def test_repeat_buyer_needs_min_orders(min_orders: int, orders: int, tier: str) -> None:
    rules = TierRules.model_validate({"repeat_buyer": {"min_orders": min_orders}})
    step = next_tier(TierState(), revenue=D(1), orders=orders, threshold=D(10), now=NOW, rules=rules)
    assert step.state.tier == tier


# --- referral rewards ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ({"type": "points", "points": 500}, RewardValue(points=500)),
        ({"type": "credit", "credit": {"amount": "10.00", "currency": "EUR"}}, RewardValue(credit=D(10))),
        ({"type": "credit", "credit": {"amount": "10.00", "currency": "USD"}}, RewardValue(credit=D("9.2"))),
        ({"type": "coupon", "coupon": {"amount": "100", "currency": "SEK"}}, RewardValue(credit=D("8.7"))),
        # no exchange rate: counted in full, never undercounted
        ({"type": "credit", "credit": {"amount": "10.00", "currency": "GBP"}}, RewardValue(credit=D(10))),
        ({"type": "coupon", "coupon": {"amount": "25", "currency": "CHF"}}, RewardValue(credit=D(25))),
    ],
)
def test_reward_value(rule: dict[str, Any], value: RewardValue) -> None:
    assert reward_value(ReferralRewardRule.model_validate(rule), RULES) == value


POINTS_500 = RewardValue(points=500)
CREDIT_10 = RewardValue(credit=D(10))


@pytest.mark.parametrize(
    ("side", "value", "advocate_rewards", "used", "reason"),
    [
        ("advocate", POINTS_500, 0, BudgetUse(), None),
        ("advocate", POINTS_500, 9, BudgetUse(), None),
        ("advocate", POINTS_500, 10, BudgetUse(), "advocate_cap_reached"),
        ("advocate", CREDIT_10, 11, BudgetUse(), "advocate_cap_reached"),
        ("friend", CREDIT_10, 10, BudgetUse(), None),  # the friend side is never capped
        ("friend", POINTS_500, 50, BudgetUse(), None),
        ("advocate", POINTS_500, 0, BudgetUse(points=500), None),  # exactly the budget
        ("advocate", POINTS_500, 0, BudgetUse(points=501), "programme_budget_exhausted"),
        ("friend", POINTS_500, 0, BudgetUse(points=1000), "programme_budget_exhausted"),
        ("friend", CREDIT_10, 0, BudgetUse(credit=D("90.00")), None),
        ("friend", CREDIT_10, 0, BudgetUse(credit=D("90.01")), "programme_budget_exhausted"),
        ("advocate", CREDIT_10, 0, BudgetUse(credit=D(100)), "programme_budget_exhausted"),
        # each budget limits its own kind of reward
        ("friend", CREDIT_10, 0, BudgetUse(points=5000), None),
        ("advocate", POINTS_500, 0, BudgetUse(credit=D(5000)), None),
        ("advocate", POINTS_500, 10, BudgetUse(points=5000), "advocate_cap_reached"),
    ],
)
def test_withheld_reason(
    side: str, value: RewardValue, advocate_rewards: int, used: BudgetUse, reason: str | None
) -> None:
    withheld = withheld_reason(
        side=side, value=value, advocate_rewards_in_period=advocate_rewards, budget_used=used, rules=RULES
    )
    assert withheld == reason


@pytest.mark.parametrize(("side", "value"), [("advocate", POINTS_500), ("friend", CREDIT_10)])
def test_no_cap_and_no_budget_limits_nothing(side: str, value: RewardValue) -> None:
    rules = _referral_rules(cap_per_advocate=None, budget={"period": "total"})
    used = BudgetUse(points=10**9, credit=D(10**9))
    reason = withheld_reason(
        side=side, value=value, advocate_rewards_in_period=10**6, budget_used=used, rules=rules
    )
    assert reason is None


def test_a_zero_budget_gives_nothing() -> None:
    rules = _referral_rules(budget={"points": 0, "credit": "0"})
    for value in (POINTS_500, CREDIT_10):
        reason = withheld_reason(
            side="friend", value=value, advocate_rewards_in_period=0, budget_used=BudgetUse(), rules=rules
        )
        assert reason == "programme_budget_exhausted"


# --- compensation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "granted", "reason"),
    [
        ("100", "EUR", "0", None),
        ("100", "EUR", "400", None),  # exactly the budget
        ("500", "EUR", "0", None),
        ("100.01", "EUR", "400", "compensation_budget_exceeded"),
        ("0.01", "EUR", "500", "compensation_budget_exceeded"),
        ("501", "EUR", "0", "compensation_budget_exceeded"),
        ("10", "USD", "0", "compensation_currency_not_budgeted"),
    ],
)
def test_compensation_withheld_reason(amount: str, currency: str, granted: str, reason: str | None) -> None:
    assert compensation_withheld_reason(D(amount), currency, D(granted), RULES.compensation) == reason


def test_compensation_without_any_budget_is_not_granted() -> None:
    reason = compensation_withheld_reason(D(1), "EUR", D(0), CompensationRules())
    assert reason == "compensation_currency_not_budgeted"


# --- birthdays -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "timezone", "today"),
    [
        (datetime(2026, 3, 1, 22, 30, tzinfo=UTC), "Europe/Chisinau", date(2026, 3, 2)),
        (datetime(2026, 3, 1, 21, 59, tzinfo=UTC), "Europe/Chisinau", date(2026, 3, 1)),
        (datetime(2026, 7, 1, 21, 30, tzinfo=UTC), "Europe/Chisinau", date(2026, 7, 2)),  # summer: UTC+3
        (datetime(2026, 3, 1, 3, 0, tzinfo=UTC), "America/Los_Angeles", date(2026, 2, 28)),
        (datetime(2026, 3, 1, 10, 30, tzinfo=UTC), "Pacific/Kiritimati", date(2026, 3, 2)),
        (datetime(2026, 3, 1, 22, 30, tzinfo=UTC), None, date(2026, 3, 1)),
        (datetime(2026, 3, 1, 22, 30, tzinfo=UTC), "", date(2026, 3, 1)),
        (datetime(2026, 3, 1, 22, 30, tzinfo=UTC), "Mars/Olympus_Mons", date(2026, 3, 1)),
        (datetime(2026, 3, 1, 22, 30, tzinfo=UTC), "../etc/passwd", date(2026, 3, 1)),
    ],
)
def test_local_date(now: datetime, timezone: str | None, today: date) -> None:
    assert local_date(now, timezone) == today


@pytest.mark.parametrize("timezone", ["Europe", "America", "x" * 300])
def test_a_region_or_garbage_instead_of_a_zone_falls_back_to_utc(timezone: str) -> None:
    assert local_date(datetime(2026, 3, 1, 22, 30, tzinfo=UTC), timezone) == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("birthday", "year", "day"),
    [
        (date(1990, 3, 2), 2026, date(2026, 3, 2)),
        (date(2000, 2, 29), 2027, date(2027, 2, 28)),
        (date(2000, 2, 29), 2028, date(2028, 2, 29)),
        (date(2001, 2, 28), 2028, date(2028, 2, 28)),
    ],
)
def test_birthday_in(birthday: date, year: int, day: date) -> None:
    assert birthday_in(birthday, year) == day


@pytest.mark.parametrize(
    ("birthday", "today", "expected"),
    [
        (date(1990, 3, 2), date(2026, 3, 2), True),
        (date(1990, 3, 2), date(2026, 3, 1), False),
        (date(1990, 3, 2), date(2026, 2, 3), False),
        (date(2000, 2, 29), date(2027, 2, 28), True),
        (date(2000, 2, 29), date(2027, 3, 1), False),
        (date(2000, 2, 29), date(2028, 2, 28), False),
        (date(2000, 2, 29), date(2028, 2, 29), True),
    ],
)
def test_is_birthday(birthday: date, today: date, expected: bool) -> None:
    assert is_birthday(birthday, today) is expected


# --- redemption ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "currency", "value"),
    [(100, "EUR", "1.00"), (12345, "EUR", "123.45"), (150, "SEK", "15.00"), (1001, "EUR", "10.01")],
)
def test_coupon_value_of_points(points: int, currency: str, value: str) -> None:
    assert str(coupon_value_of_points(points, currency, RULES.redemption)) == value


@pytest.mark.parametrize(
    ("points", "currency", "code"),
    [
        (99, "EUR", "below_minimum_redemption"),
        (0, "SEK", "below_minimum_redemption"),
        (100, "MDL", "currency_not_redeemable"),
        (50, "MDL", "currency_not_redeemable"),
    ],
)
def test_coupon_value_of_points_refused(points: int, currency: str, code: str) -> None:
    with pytest.raises(RedemptionRefused) as refused:
        coupon_value_of_points(points, currency, RULES.redemption)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("requested", "available", "refused"),
    [
        ("100", "100", False),  # the whole balance
        ("99", "100", False),
        ("0", "0", False),
        ("101", "100", True),
        ("10.01", "10.00", True),
        ("1", "-5", True),
    ],
)
def test_refusal_never_overdraws(requested: str, available: str, refused: bool) -> None:
    result = refusal(D(requested), D(available), "points")
    if not refused:
        assert result is None
    else:
        assert result is not None and result.code == "insufficient_balance"
        assert requested in result.detail and available in result.detail


def test_the_coupon_alphabet_has_no_ambiguous_characters() -> None:
    assert len(set(COUPON_ALPHABET)) == len(COUPON_ALPHABET) == 32  # 256 % 32 == 0: no bias
    assert not set("01IO") & set(COUPON_ALPHABET)
    assert COUPON_ALPHABET.isupper() and COUPON_ALPHABET.isalnum()


@pytest.mark.parametrize(
    ("random", "code"),
    [
        (bytes(8), "WOM-2222-2222"),
        (bytes(range(8)), "WOM-2345-6789"),
        (bytes([31] * 8), "WOM-ZZZZ-ZZZZ"),
        (bytes([32, 255, 64, 8, 0, 0, 0, 0]), "WOM-2Z2A-2222"),
        (bytes(range(8)) + b"ignored", "WOM-2345-6789"),
    ],
)
def test_coupon_code(random: bytes, code: str) -> None:
    assert coupon_code(random) == code


def test_coupon_code_format_for_every_byte() -> None:
    pattern = re.compile(f"^WOM-[{COUPON_ALPHABET}]{{4}}-[{COUPON_ALPHABET}]{{4}}$")
    codes = {coupon_code(bytes([byte] * 8)) for byte in range(256)}
    assert all(pattern.match(code) for code in codes)
    assert len(codes) == 32
    assert coupon_code(bytes(8), prefix="GIFT") == "GIFT-2222-2222"


# --- balances --------------------------------------------------------------------------------

ENTRIES = [
    ("points", "available", D(100)),
    ("points", "available", D(-30)),
    ("points", "pending", D(50)),
    ("points", "expired", D(-20)),
    ("USD", "available", D("5.00")),
    ("EUR", "available", D("10.00")),
    ("EUR", "available", D("-2.50")),
    ("SEK", "available", D("3.00")),
    ("SEK", "available", D("-3.00")),  # at zero: left out
    ("GBP", "available", D("-1.00")),  # negative: left out
    ("EUR", "pending", D("3.00")),
]


def test_points_per_status() -> None:
    balances = Balances.of(ENTRIES)
    assert balances.points("available") == 70
    assert balances.points("pending") == 50
    assert balances.points("expired") == -20
    assert balances.points("revoked") == 0


def test_credit_per_currency() -> None:
    balances = Balances.of(ENTRIES)
    assert balances.credit("available") == [
        Money(amount=D("7.50"), currency="EUR"),
        Money(amount=D("5.00"), currency="USD"),
    ]
    assert balances.credit("pending") == [Money(amount=D("3.00"), currency="EUR")]
    assert balances.credit("expired") == []


def test_balances_follow_added_entries() -> None:
    balances = Balances.of(ENTRIES)
    balances.add("points", "available", D(5))
    balances.add("GBP", "available", D("2.00"))
    assert balances.points("available") == 75
    assert Money(amount=D("1.00"), currency="GBP") in balances.credit("available")


def test_balance_event() -> None:
    assert Balances.of(ENTRIES).to_event() == Balance(
        points_available=70,
        points_pending=50,
        credit_available=[Money(amount=D("7.50"), currency="EUR"), Money(amount=D("5.00"), currency="USD")],
    )
    assert Balances().to_event() == Balance(points_available=0, points_pending=0, credit_available=[])
