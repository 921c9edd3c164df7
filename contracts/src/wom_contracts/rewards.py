"""Events of the rewards service."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wom_contracts.base import Event
from wom_contracts.types import Id, Money, ReasonCode, UtcDatetime

__all__ = [
    "BIRTHDAY",
    "COMPENSATION",
    "EARN",
    "KEY_CLIENT",
    "MEMBER",
    "ORDER_PARTIALLY_REFUNDED",
    "ORDER_REFUNDED",
    "POINTS_EXPIRED",
    "REFERRAL_ADVOCATE",
    "REFERRAL_FRIEND",
    "REFERRAL_KINDS",
    "REPEAT_BUYER",
    "REWARD_KINDS",
    "TIER_ORDER",
    "Balance",
    "KnownTier",
    "PointsExpiringV1",
    "RevocationReason",
    "RewardGrantedV1",
    "RewardKind",
    "RewardRedeemedV1",
    "RewardReleasedV1",
    "RewardRevokedV1",
    "RewardWithheldV1",
    "TierChangedV1",
    "is_upgrade",
]

RewardKind = Literal["earn", "referral_advocate", "referral_friend", "compensation", "birthday"]
"""What a reward was given for: a purchase, either side of a referral, a support case, a birthday."""
REWARD_KINDS: tuple[RewardKind, ...] = get_args(RewardKind)
EARN: RewardKind = "earn"
REFERRAL_ADVOCATE: RewardKind = "referral_advocate"
REFERRAL_FRIEND: RewardKind = "referral_friend"
COMPENSATION: RewardKind = "compensation"
BIRTHDAY: RewardKind = "birthday"
REFERRAL_KINDS: tuple[RewardKind, ...] = (REFERRAL_ADVOCATE, REFERRAL_FRIEND)

RevocationReason = Literal["order_refunded", "order_partially_refunded", "points_expired"]
"""Why rewards took points back on its own account (`RewardRevokedV1.reason`); a referral reward
is taken back with the referral's reversal reason, any reason code. The wire carries a string."""
ORDER_REFUNDED: RevocationReason = "order_refunded"
ORDER_PARTIALLY_REFUNDED: RevocationReason = "order_partially_refunded"
POINTS_EXPIRED: RevocationReason = "points_expired"

KnownTier = Literal["member", "repeat_buyer", "key_client"]
"""wom's tiers. The events carry a tier as a snake_case name (`Tier`): a consumer must take a name
it does not know (a tier added later) for a tier below none of these and above none."""
MEMBER: KnownTier = "member"
REPEAT_BUYER: KnownTier = "repeat_buyer"
KEY_CLIENT: KnownTier = "key_client"
"""The VIP tier: the top share of customers by trailing revenue (rewards), first in support's
queues (feedback), welcomed with the key-client offer (outreach)."""
TIER_ORDER: tuple[KnownTier, ...] = (MEMBER, REPEAT_BUYER, KEY_CLIENT)
"""Lowest first."""
Tier = Annotated[str, StringConstraints(max_length=32, pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def is_upgrade(previous: str | None, tier: str) -> bool:
    """True when `tier` ranks above `previous` (no previous tier: a member); a tier outside
    `TIER_ORDER` on either side counts as an upgrade, as rewards' events say."""
    previous = previous or MEMBER
    if previous not in TIER_ORDER or tier not in TIER_ORDER:
        return True
    return TIER_ORDER.index(tier) > TIER_ORDER.index(previous)


class Balance(BaseModel):
    """The customer's balance after the change, so consumers need no call back."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    points_available: int
    points_pending: int
    credit_available: list[Money] = Field(default_factory=list, max_length=64)  # one per currency


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
    upgrade: bool | None = Field(
        default=None,
        description="true when the new tier ranks above the previous one (false: a step down); "
        "absent from events published before the field existed: compare with is_upgrade",
    )
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
