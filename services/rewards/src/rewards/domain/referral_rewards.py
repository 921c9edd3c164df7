"""Double-sided referral rewards: what each side gets, and when a cap or the budget says no."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rewards.rules import ReferralRewardRule, Rules

__all__ = ["BudgetUse", "RewardValue", "reward_value", "withheld_reason"]


@dataclass(frozen=True)
class RewardValue:
    """A reward measured against the programme budget: points, or credit in the reporting
    currency (store credit and coupons alike)."""

    points: int = 0
    credit: Decimal = Decimal(0)


@dataclass(frozen=True)
class BudgetUse:
    """What the programme has given in the current budget period."""

    points: int = 0
    credit: Decimal = Decimal(0)


def reward_value(rule: ReferralRewardRule, rules: Rules) -> RewardValue:
    """The budget value of one reward under `rule` (credit without an exchange rate counts in
    full, as if it were in the reporting currency: a budget must never be undercounted)."""
    if rule.points is not None:
        return RewardValue(points=rule.points)
    money = rule.credit or rule.coupon
    assert money is not None  # the rules model guarantees one of the three
    converted = rules.in_reporting_currency(money.amount, money.currency)
    return RewardValue(credit=money.amount if converted is None else converted)


def withheld_reason(
    *,
    side: str,
    value: RewardValue,
    advocate_rewards_in_period: int,
    budget_used: BudgetUse,
    rules: Rules,
) -> str | None:
    """Why a reward must not be granted (a stable reason code), or None to grant it."""
    cap = rules.referrals.cap_per_advocate
    if side == "advocate" and cap is not None and advocate_rewards_in_period >= cap.count:
        return "advocate_cap_reached"
    budget = rules.referrals.budget
    if budget.points is not None and value.points and budget_used.points + value.points > budget.points:
        return "programme_budget_exhausted"
    if budget.credit is not None and value.credit and budget_used.credit + value.credit > budget.credit:
        return "programme_budget_exhausted"
    return None
