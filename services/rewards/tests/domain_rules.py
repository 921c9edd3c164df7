"""Rules the rewards unit tests are written against: explicit, so a change to the shipped
default file does not silently change what the tests mean."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import settings
from rewards.rules import Rules

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
PROPERTY = settings(max_examples=100, deadline=None, database=None)


def _referral_rules(**referrals: Any) -> Rules:
    return Rules.model_validate({**RULES_DATA, "referrals": {**RULES_DATA["referrals"], **referrals}})
