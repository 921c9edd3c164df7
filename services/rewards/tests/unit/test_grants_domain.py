"""Unit tests of referral rewards, compensation, birthdays, redemption and balances."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from rewards.domain.balances import Balances
from rewards.domain.birthdays import birthday_in, is_birthday, local_date
from rewards.domain.compensation import compensation_withheld_reason
from rewards.domain.redemption import (
    COUPON_ALPHABET,
    RedemptionRefused,
    coupon_code,
    coupon_value_of_points,
    refusal,
)
from rewards.domain.referral_rewards import BudgetUse, RewardValue, reward_value, withheld_reason
from rewards.rules import CompensationRules, ReferralRewardRule
from wom_contracts import Balance, Money

from ..domain_rules import RULES, D, _referral_rules

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
