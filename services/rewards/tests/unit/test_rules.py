"""The rules file: the shipped default loads, and every mistake is an error that names its key."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from rewards.rules import DEFAULT_RULES_FILE, Rules, RulesError, load_rules

MINIMAL = """\
earning:
  points_per_unit: {EUR: "1"}
referrals:
  advocate: {type: points, points: 500}
  friend: {type: credit, credit: {amount: "10.00", currency: EUR}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _with(tmp_path: Path, key: str, value: Any) -> Path:
    """A rules file: the minimal one with `value` at the dotted `key`."""
    data = yaml.safe_load(MINIMAL)
    *parents, last = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = copy.deepcopy(value)
    return _write(tmp_path, yaml.safe_dump(data))


def _error(path: Path) -> str:
    with pytest.raises(RulesError) as error:
        load_rules(path)
    return str(error.value)


def test_the_shipped_default_loads() -> None:
    rules = load_rules()
    assert load_rules(DEFAULT_RULES_FILE) == rules
    assert rules.reporting_currency == "EUR"
    assert rules.earning.points_per_unit["EUR"] == 1
    assert rules.earning.tier_multipliers["key_client"] > 1
    assert rules.referrals.advocate.type == "points" and rules.referrals.advocate.points
    assert rules.tiers.key_client.top_percent == 20


def test_the_shipped_default_values_every_currency_it_uses() -> None:
    rules = load_rules()
    used = (
        set(rules.earning.points_per_unit)
        | set(rules.compensation.monthly_budget)
        | set(rules.redemption.point_value)
    )
    assert used <= set(rules.exchange_rates)
    assert rules.exchange_rates[rules.reporting_currency] == 1


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    rules = load_rules(_write(tmp_path, MINIMAL))
    assert rules.earning.rounding == "floor"
    assert rules.earning.hold_days == 14
    assert rules.earning.expiry.after_days == 365
    assert rules.tiers.key_client.top_percent == 20
    assert rules.tiers.key_client.downgrade_grace_days == 30
    assert rules.tiers.repeat_buyer.min_orders == 2
    assert rules.referrals.cap_per_advocate is None
    assert (rules.referrals.budget.points, rules.referrals.budget.credit) == (None, None)
    assert rules.compensation.monthly_budget == {}


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("colour", "blue", "colour"),
        ("earning.roundng", "floor", "earning.roundng"),
        ("earning.tier_multipliers.vip", "2", "earning.tier_multipliers.vip"),
        ("earning.expiry.after_dayz", 30, "earning.expiry.after_dayz"),
        ("referrals.advocate.bonus", 5, "referrals.advocate.bonus"),
        ("referrals.budget.coupons", 5, "referrals.budget.coupons"),
        ("referrals.cap_per_advocate", {"count": 1, "period_days": 1, "per": "day"}, "cap_per_advocate.per"),
        ("tiers.key_client.top_percentage", 10, "tiers.key_client.top_percentage"),
        ("tiers.silver", {}, "tiers.silver"),
        ("compensation.weekly_budget", {}, "compensation.weekly_budget"),
        ("birthday.member_points", 10, "birthday.member_points"),
        ("redemption.point_values", {}, "redemption.point_values"),
    ],
)
def test_an_unknown_key_is_an_error_that_names_it(tmp_path: Path, key: str, value: Any, named: str) -> None:
    path = _with(tmp_path, key, value)
    message = _error(path)
    assert named in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("earning.rounding", "nearest", "earning.rounding"),
        ("earning.points_per_unit.EUR", "-1", "earning.points_per_unit.EUR"),
        ("earning.points_per_unit.EUR", "NaN", "earning.points_per_unit.EUR"),
        ("earning.points_per_unit.EUR", "one", "earning.points_per_unit.EUR"),
        ("earning.points_per_unit.eur", "1", "earning.points_per_unit.eur.[key]"),
        ("earning.points_per_unit", {}, "earning.points_per_unit"),
        ("earning.minimum_order.EUR", "-5", "earning.minimum_order.EUR"),
        ("earning.tier_multipliers.key_client", "0", "earning.tier_multipliers.key_client"),
        ("earning.hold_days", -1, "earning.hold_days"),
        ("earning.expiry.after_days", 0, "earning.expiry.after_days"),
        ("reporting_currency", "euro", "reporting_currency"),
        ("exchange_rates.USD", "-0.92", "exchange_rates.USD"),
        ("referrals.advocate.points", 0, "referrals.advocate.points"),
        ("referrals.advocate.type", "cash", "referrals.advocate.type"),
        ("referrals.friend.credit.amount", 10.0, "referrals.friend.credit.amount"),  # a float, not a string
        ("referrals.friend.credit.currency", "eur", "referrals.friend.credit.currency"),
        ("referrals.cap_per_advocate", {"count": 0, "period_days": 30}, "referrals.cap_per_advocate.count"),
        ("referrals.budget.period", "week", "referrals.budget.period"),
        ("referrals.budget.credit", "-1", "referrals.budget.credit"),
        ("tiers.key_client.top_percent", 0, "tiers.key_client.top_percent"),
        ("tiers.key_client.top_percent", 101, "tiers.key_client.top_percent"),
        ("tiers.repeat_buyer.min_orders", 1, "tiers.repeat_buyer.min_orders"),
        ("compensation.monthly_budget.EUR", "-5", "compensation.monthly_budget.EUR"),
        ("birthday.key_client_points", -1, "birthday.key_client_points"),
        ("redemption.minimum_points", 0, "redemption.minimum_points"),
        ("redemption.coupon_valid_days", 0, "redemption.coupon_valid_days"),
    ],
)
def test_a_bad_value_is_an_error_that_names_its_key(tmp_path: Path, key: str, value: Any, named: str) -> None:
    assert f"{named}:" in _error(_with(tmp_path, key, value))


@pytest.mark.parametrize(
    ("side", "rule", "says"),
    [
        ("advocate", {"type": "points"}, "type 'points' needs `points`"),
        ("advocate", {"type": "points", "credit": {"amount": "5", "currency": "EUR"}}, "needs `points`"),
        ("friend", {"type": "credit"}, "type 'credit' needs `credit`"),
        ("friend", {"type": "coupon", "credit": {"amount": "5", "currency": "EUR"}}, "needs `coupon`"),
        (
            "advocate",
            {"type": "points", "points": 5, "credit": {"amount": "5", "currency": "EUR"}},
            "no credit",
        ),
        (
            "friend",
            {"type": "credit", "credit": {"amount": "5", "currency": "EUR"}, "points": 5},
            "no points",
        ),
    ],
)
def test_a_referral_reward_needs_the_amount_of_its_type(
    tmp_path: Path, side: str, rule: dict[str, Any], says: str
) -> None:
    message = _error(_with(tmp_path, f"referrals.{side}", rule))
    assert f"referrals.{side}:" in message
    assert says in message


@pytest.mark.parametrize("section", ["earning", "referrals"])
def test_a_missing_section_is_named(tmp_path: Path, section: str) -> None:
    data = yaml.safe_load(MINIMAL)
    del data[section]
    message = _error(_write(tmp_path, yaml.safe_dump(data)))
    assert f"{section}: Field required" in message


def test_invalid_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "earning:\n  points_per_unit: {EUR: '1'\n")
    message = _error(path)
    assert f"rules file {path} is not valid YAML" in message


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    message = _error(path)
    assert f"cannot read rules file {path}" in message


def test_a_directory_instead_of_a_file(tmp_path: Path) -> None:
    assert f"cannot read rules file {tmp_path}" in _error(tmp_path)


@pytest.mark.parametrize("text", ["", "- earning\n- referrals\n", "just words\n"])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    assert "(top level)" in _error(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("reporting", "rates", "error"),
    [
        ("EUR", {"EUR": "1", "USD": "0.92"}, None),
        ("EUR", {"EUR": "1.000", "USD": "0.92"}, None),
        ("EUR", {"USD": "0.92"}, None),  # the reporting currency needs no rate
        ("EUR", {"EUR": "1.1"}, "exchange_rates.EUR must be 1"),
        ("EUR", {"EUR": "0"}, "exchange_rates.EUR must be 1"),
        ("USD", {"EUR": "1", "USD": "0.92"}, "exchange_rates.USD must be 1"),
        ("USD", {"USD": "1", "EUR": "1.09"}, None),
    ],
)
def test_the_reporting_currency_is_worth_one(
    tmp_path: Path, reporting: str, rates: dict[str, str], error: str | None
) -> None:
    data = yaml.safe_load(MINIMAL) | {"reporting_currency": reporting, "exchange_rates": rates}
    path = _write(tmp_path, yaml.safe_dump(data))
    if error is None:
        assert load_rules(path).reporting_currency == reporting
    else:
        assert error in _error(path)


RATES = Rules.model_validate(
    yaml.safe_load(MINIMAL) | {"exchange_rates": {"EUR": "1", "USD": "0.92", "SEK": "0.087"}}
)


@pytest.mark.parametrize(
    ("amount", "currency", "converted"),
    [
        ("10.00", "EUR", "10.00"),
        ("10.00", "USD", "9.2000"),
        ("1000", "SEK", "87.0000"),
        ("0.01", "SEK", "0.0009"),  # to four places
        ("10.00", "JPY", None),
    ],
)
def test_in_reporting_currency(amount: str, currency: str, converted: str | None) -> None:
    result = RATES.in_reporting_currency(Decimal(amount), currency)
    assert result == (None if converted is None else Decimal(converted))
    if converted is not None:
        assert str(result) == converted


def test_the_reporting_currency_converts_without_a_rate() -> None:
    rules = Rules.model_validate(yaml.safe_load(MINIMAL))
    assert rules.exchange_rates == {}
    assert rules.in_reporting_currency(Decimal("12.34"), "EUR") == Decimal("12.34")
    assert rules.in_reporting_currency(Decimal("12.34"), "USD") is None


def test_a_plain_number_in_yaml_is_read_as_the_decimal_written(tmp_path: Path) -> None:
    rules = load_rules(_with(tmp_path, "earning.points_per_unit", {"RON": 0.29, "SEK": 0.1}))
    assert rules.earning.points_per_unit == {"RON": Decimal("0.29"), "SEK": Decimal("0.1")}


def test_the_example_in_the_service_readme_is_a_valid_rules_file(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example)
    rules = load_rules(path)
    assert rules.referrals.friend.coupon is not None and rules.referrals.friend.coupon.currency == "RON"
    assert rules.earning.tier_multipliers["repeat_buyer"] == Decimal("1.1")
