"""Settings of the rewards service."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator
from wom_chassis import ServiceSettings

__all__ = ["RewardsSettings"]


class RewardsSettings(ServiceSettings):
    """Rewards settings; the earning rate is points per whole currency unit, per currency."""

    service_name: str = "rewards"
    http_port: int = 8002
    points_per_unit: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "EUR": Decimal(1),
            "USD": Decimal(1),
            "GBP": Decimal(1),
            "CHF": Decimal(1),
            "SEK": Decimal("0.1"),
            "RON": Decimal("0.2"),
            "MDL": Decimal("0.05"),
            "RUB": Decimal("0.01"),
        }
    )
    points_hold_days: int = Field(default=14, ge=0, description="the return window")

    @field_validator("points_per_unit")
    @classmethod
    def _rates_are_sane(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, rate in rates.items():
            if len(currency) != 3 or not currency.isupper():
                raise ValueError(f"POINTS_PER_UNIT: {currency!r} is not an ISO 4217 code")
            if not rate.is_finite() or rate < 0:
                raise ValueError(f"POINTS_PER_UNIT[{currency}]: rate must be ≥ 0, got {rate}")
        return rates
