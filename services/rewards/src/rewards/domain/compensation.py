"""Compensation for a resolved case: store credit, within a monthly budget per currency."""

from __future__ import annotations

from decimal import Decimal

from rewards.rules import CompensationRules

__all__ = ["compensation_withheld_reason"]


def compensation_withheld_reason(
    amount: Decimal, currency: str, granted_this_month: Decimal, rules: CompensationRules
) -> str | None:
    """Why a compensation cannot be granted (a stable reason code), or None to grant it."""
    budget = rules.monthly_budget.get(currency)
    if budget is None:
        return "compensation_currency_not_budgeted"
    if granted_this_month + amount > budget:
        return "compensation_budget_exceeded"
    return None
