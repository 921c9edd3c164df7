"""Unit tests of expiry (oldest first) and tiers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rewards.domain.expiry import Debit, Lot, expiring, remaining_by_lot
from rewards.domain.tiers import (
    KEY_CLIENT,
    MEMBER,
    REPEAT_BUYER,
    Position,
    Ranking,
    Standings,
    TierState,
    next_tier,
    position_of,
    rank_customers,
)
from rewards.rules import TierRules

from ..domain_rules import NOW, PROPERTY, RULES, D

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


def _ranked_by_sorting(revenues: dict[str, Decimal], top_percent: Decimal) -> Ranking:
    ranked = sorted((revenue for revenue in revenues.values() if revenue > 0), reverse=True)
    if not ranked:
        return Ranking(None, 0, 0)
    threshold = ranked[max(1, math.ceil(len(ranked) * top_percent / 100)) - 1]
    return Ranking(threshold, len(ranked), sum(1 for revenue in ranked if revenue >= threshold))


@PROPERTY
@given(
    start=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(-5, 50).map(D), max_size=8),
    changes=st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(-5, 50).map(D)), max_size=30),
    top_percent=st.sampled_from(["1", "12.5", "20", "50", "100"]).map(D),
)
def test_property_standings_rank_as_a_sort_of_everyone_after_each_change(
    start: dict[str, Decimal], changes: list[tuple[str, Decimal]], top_percent: Decimal
) -> None:
    standings, revenues = Standings(start, top_percent), dict(start)
    assert standings.ranking() == _ranked_by_sorting(revenues, top_percent)
    for customer_id, revenue in changes:
        standings.update(customer_id, revenue)
        revenues[customer_id] = revenue
        assert standings.ranking() == _ranked_by_sorting(revenues, top_percent)


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
