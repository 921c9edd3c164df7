from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rewards.domain import EarningRules, points_for_order, release_date

RULES = EarningRules({"EUR": Decimal(1), "SEK": Decimal("0.1")}, timedelta(days=14))


@pytest.mark.parametrize(
    ("amount", "currency", "points"),
    [
        ("42.50", "EUR", 42),
        ("42.99", "EUR", 42),  # rounded down: a fraction of a unit earns nothing
        ("0.99", "EUR", 0),
        ("1000", "SEK", 100),
        ("19", "SEK", 1),
        ("50", "JPY", 0),  # no rate for the currency
        ("0", "EUR", 0),
    ],
)
def test_points_for_order(amount: str, currency: str, points: int) -> None:
    assert points_for_order(Decimal(amount), currency, RULES) == points


def test_points_are_exact_for_large_amounts() -> None:
    assert points_for_order(Decimal("12345678.91"), "EUR", RULES) == 12345678


def test_release_date_is_the_end_of_the_return_window() -> None:
    completed = datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert release_date(completed, RULES) == datetime(2026, 11, 15, 10, tzinfo=UTC)
