"""Events of the rewards service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wom_contracts.base import Event
from wom_contracts.types import Id, Money, ReasonCode, UtcDatetime

__all__ = [
    "Balance",
    "PointsExpiringV1",
    "RewardGrantedV1",
    "RewardRedeemedV1",
    "RewardReleasedV1",
    "RewardRevokedV1",
    "RewardWithheldV1",
    "TierChangedV1",
]

RewardKind = Literal["earn", "referral_advocate", "referral_friend", "compensation", "birthday"]
Tier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class Balance(BaseModel):
    """The customer's balance after the change, so consumers need no call back."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    points_available: int
    points_pending: int
    credit_available: list[Money] = Field(default_factory=list)


class _RewardEvent(Event):
    reward_id: Id
    kind: RewardKind
    points: int | None = Field(default=None, ge=0)
    credit: Money | None = None
    coupon_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    balance: Balance
    occurred_at: UtcDatetime


class RewardGrantedV1(_RewardEvent):
    """Points, store credit or a coupon were granted; pending rewards wait for `hold_until`."""

    event_type = "rewards.reward.granted.v1"

    status: Literal["pending", "available"]
    reason: ReasonCode
    source_event_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    order_id: Id | None = None
    referral_id: Id | None = None
    case_id: Id | None = None
    hold_until: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None


class RewardReleasedV1(_RewardEvent):
    """A pending reward became available."""

    event_type = "rewards.reward.released.v1"


class RewardRevokedV1(_RewardEvent):
    """A reward was taken back (refund, reversed referral, expiry), with the reason; `points` or
    `credit` is the amount taken back, not the original grant."""

    event_type = "rewards.reward.revoked.v1"

    reason: ReasonCode
    order_id: Id | None = None
    referral_id: Id | None = None
    refund_id: Id | None = None


class RewardWithheldV1(Event):
    """A reward the rules would give was not granted (a cap, a budget, a reversed referral)."""

    event_type = "rewards.reward.withheld.v1"

    kind: RewardKind
    reason: ReasonCode
    points: int | None = Field(default=None, ge=0)
    credit: Money | None = None
    referral_id: Id | None = None
    case_id: Id | None = None
    occurred_at: UtcDatetime


class RewardRedeemedV1(Event):
    """The customer turned points or store credit into a coupon code."""

    event_type = "rewards.reward.redeemed.v1"

    redemption_id: Id
    points: int | None = Field(default=None, gt=0)
    credit: Money | None = None
    coupon_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    coupon_value: Money
    balance: Balance
    occurred_at: UtcDatetime


class TierChangedV1(Event):
    """The customer moved between tiers (e.g. into the key-client tier)."""

    event_type = "rewards.tier.changed.v1"

    previous_tier: Tier | None = None
    tier: Tier
    trailing_revenue: Money
    percentile: float | None = Field(default=None, ge=0, le=100)
    occurred_at: UtcDatetime
    reason: ReasonCode | None = None
    threshold: Money | None = None


class PointsExpiringV1(Event):
    """Points will expire soon unless used."""

    event_type = "rewards.points.expiring.v1"

    points: int = Field(gt=0)
    expires_at: UtcDatetime
    balance: Balance
    occurred_at: UtcDatetime
