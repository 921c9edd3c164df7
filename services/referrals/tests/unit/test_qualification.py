"""Qualification and reversal rules, alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from referrals.domain.qualification import OrderFacts, hold_end, qualification_problem, reversal_reason
from referrals.rules import AttributionRules, QualificationRules

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
WINDOW = AttributionRules(window_days=60)
MINIMUMS = QualificationRules(minimum_order={"EUR": Decimal("20.00")}, hold_days=14)


def first(
    amount: str = "50.00", *, days: float = 1, refunded: str = "0", currency: str = "EUR"
) -> OrderFacts:
    return OrderFacts("o-1", T0 + timedelta(days=days), Decimal(amount), currency, Decimal(refunded))


def problem(order: OrderFacts, attributing_order_id: str | None = None) -> str | None:
    found = qualification_problem(
        order,
        attributed_at=T0,
        attributing_order_id=attributing_order_id,
        attribution=WINDOW,
        qualification=MINIMUMS,
    )
    return None if found is None else found.reason


def test_a_first_order_above_the_minimum_inside_the_window_qualifies() -> None:
    assert problem(first()) is None
    assert problem(first("20.00", days=60)) is None  # both limits are inclusive
    assert problem(first("5.00", currency="JPY")) is None  # no minimum for JPY


def test_each_qualification_rule() -> None:
    assert problem(first("19.99")) == "below_minimum_order"
    assert problem(first("50.00", refunded="35.00")) == "below_minimum_order"
    assert problem(first("50.00", refunded="50.00")) == "order_refunded"
    assert problem(first(days=60.01)) == "outside_window"
    assert problem(first(days=-1)) == "not_first_order"
    assert problem(first(), attributing_order_id="o-9") == "not_first_order"
    assert problem(first(), attributing_order_id="o-1") is None


def test_the_hold_is_the_return_window_from_the_order() -> None:
    assert hold_end(first(days=1), MINIMUMS) == T0 + timedelta(days=15)


def test_reversal_after_refunds() -> None:
    assert reversal_reason(first(refunded="50.00"), MINIMUMS) == "order_fully_refunded"
    assert reversal_reason(first(refunded="30.01"), MINIMUMS) == "order_refunded_below_minimum"
    assert reversal_reason(first(refunded="30.00"), MINIMUMS) is None
