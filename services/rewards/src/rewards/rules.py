"""The rewards rules file: typed, validated at start-up, every error names its key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from wom_chassis import RulesError, load_rules_file
from wom_contracts import KnownTier, Money

__all__ = [
    "DEFAULT_RULES_FILE",
    "BirthdayRules",
    "CompensationRules",
    "EarningRules",
    "ExpiryRules",
    "KeyClientRules",
    "RedemptionRules",
    "ReferralBudget",
    "ReferralRewardRule",
    "ReferralRules",
    "RepeatBuyerRules",
    "Rules",
    "RulesError",
    "TierRules",
    "load_rules",
]

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.default.yaml")

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Rate = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Tier = KnownTier  # the contracts' tiers


class _Strict(BaseModel):
    # a misspelt key in a rules file must be an error, not a silently ignored setting
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpiryRules(_Strict):
    """Points expire `after_days` after they were granted (oldest first); customers are warned
    `warn_days_before`."""

    after_days: int = Field(default=365, ge=1)
    warn_days_before: int = Field(default=30, ge=0)


class EarningRules(_Strict):
    """Points for purchases."""

    points_per_unit: dict[Currency, Rate] = Field(min_length=1)
    rounding: Literal["floor", "half_up", "ceil"] = "floor"
    minimum_order: dict[Currency, Rate] = Field(default_factory=dict)
    tier_multipliers: dict[Tier, Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    hold_days: float = Field(default=14, ge=0, allow_inf_nan=False)  # fractions: tests and the demo
    expiry: ExpiryRules = ExpiryRules()


class ReferralRewardRule(_Strict):
    """One side's reward: points, store credit or a coupon worth `coupon`."""

    type: Literal["points", "credit", "coupon"]
    points: int | None = Field(default=None, gt=0)
    credit: Money | None = None
    coupon: Money | None = None

    @model_validator(mode="after")
    def _amount_for_type(self) -> Self:
        given = {"points": self.points, "credit": self.credit, "coupon": self.coupon}
        if given[self.type] is None:
            raise ValueError(f"type {self.type!r} needs `{self.type}`")
        extra = [name for name, value in given.items() if value is not None and name != self.type]
        if extra:
            raise ValueError(f"type {self.type!r} takes no {', '.join(extra)}")
        return self


class ReferralCap(_Strict):
    """At most `count` rewarded referrals per advocate within `period_days`."""

    count: int = Field(ge=1)
    period_days: int = Field(ge=1)


class ReferralBudget(_Strict):
    """What the programme may give away in referral rewards per period (points, and credit and
    coupons valued in the reporting currency); a limit left out is unlimited."""

    period: Literal["month", "total"] = "month"
    points: int | None = Field(default=None, ge=0)
    credit: Rate | None = None


class ReferralRules(_Strict):
    """Double-sided referral rewards, pending until the referral's hold ends."""

    advocate: ReferralRewardRule
    friend: ReferralRewardRule
    cap_per_advocate: ReferralCap | None = None
    budget: ReferralBudget = ReferralBudget()


class KeyClientRules(_Strict):
    """The key-client tier: the top `top_percent` % of customers by trailing net revenue."""

    top_percent: Decimal = Field(default=Decimal(20), gt=0, le=100)
    trailing_days: int = Field(default=365, ge=1)
    downgrade_grace_days: int = Field(default=30, ge=0)
    recompute_minutes: Decimal = Field(default=Decimal(60), gt=0)


class RepeatBuyerRules(_Strict):
    """The repeat-buyer tier: at least `min_orders` orders that were not fully refunded."""

    min_orders: int = Field(default=2, ge=2)


class TierRules(_Strict):
    """Both tiers."""

    key_client: KeyClientRules = KeyClientRules()
    repeat_buyer: RepeatBuyerRules = RepeatBuyerRules()


class CompensationRules(_Strict):
    """Store credit for resolved cases, within a monthly budget per currency."""

    monthly_budget: dict[Currency, Rate] = Field(default_factory=dict)


class BirthdayRules(_Strict):
    """A birthday gift in points for key clients, once a year."""

    key_client_points: int = Field(default=0, ge=0)


class RedemptionRules(_Strict):
    """Turning points into coupons: what one point is worth per currency."""

    point_value: dict[Currency, Rate] = Field(default_factory=dict)
    minimum_points: int = Field(default=1, ge=1)
    coupon_valid_days: int = Field(default=90, ge=1)


class Rules(_Strict):
    """Every rule of the rewards service."""

    reporting_currency: Currency = "EUR"
    exchange_rates: dict[Currency, Rate] = Field(default_factory=dict)
    earning: EarningRules
    referrals: ReferralRules
    tiers: TierRules = TierRules()
    compensation: CompensationRules = CompensationRules()
    birthday: BirthdayRules = BirthdayRules()
    redemption: RedemptionRules = RedemptionRules()

    @model_validator(mode="after")
    def _reporting_currency_has_rate_one(self) -> Self:
        rate = self.exchange_rates.get(self.reporting_currency)
        if rate is not None and rate != 1:
            raise ValueError(f"exchange_rates.{self.reporting_currency} must be 1 (the reporting currency)")
        return self

    def in_reporting_currency(self, amount: Decimal, currency: str) -> Decimal | None:
        """`amount` converted to the reporting currency; None when no rate is configured."""
        if currency == self.reporting_currency:
            return amount
        rate = self.exchange_rates.get(currency)
        return None if rate is None else (amount * rate).quantize(Decimal("0.0001"))


def load_rules(path: Path = DEFAULT_RULES_FILE) -> Rules:
    """Read and validate a rules file."""
    return load_rules_file(path, Rules)
