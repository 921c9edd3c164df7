"""Events of the referrals service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, UrlConstraints

from wom_contracts.base import Event
from wom_contracts.types import Id, Money, ReasonCode, ReferralCode, UtcDatetime

__all__ = [
    "CodeIssuedV1",
    "ReferralAttributedV1",
    "ReferralQualifiedV1",
    "ReferralRejectedV1",
    "ReferralReversedV1",
]

Reviewer = Annotated[str, StringConstraints(min_length=1, max_length=100)]
"""Who decided a referral in review (an operator's name or login); absent for automatic decisions."""


class CodeIssuedV1(Event):
    """A customer got their referral code and share link."""

    event_type = "referrals.code.issued.v1"

    code: ReferralCode
    share_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2083)]
    occurred_at: UtcDatetime


class ReferralAttributedV1(Event):
    """A friend (`customer_id`) was attributed to an advocate by a code."""

    event_type = "referrals.referral.attributed.v1"

    referral_id: Id
    advocate_customer_id: Id
    code: ReferralCode
    source: Literal["registration", "checkout"]
    occurred_at: UtcDatetime


class ReferralQualifiedV1(Event):
    """The friend's (`customer_id`) first order qualified the referral; rewards wait for the hold."""

    event_type = "referrals.referral.qualified.v1"

    referral_id: Id
    advocate_customer_id: Id
    order_id: Id
    order_total: Money
    hold_until: UtcDatetime
    occurred_at: UtcDatetime
    risk_score: Annotated[int, Field(ge=0, le=100)] | None = None
    decided_by: Reviewer | None = None


class ReferralRejectedV1(Event):
    """The referral of the friend (`customer_id`) failed a rule or a fraud check."""

    event_type = "referrals.referral.rejected.v1"

    referral_id: Id
    advocate_customer_id: Id
    reason: ReasonCode
    detail: Annotated[str, StringConstraints(max_length=1000)] | None = None
    occurred_at: UtcDatetime
    risk_score: Annotated[int, Field(ge=0, le=100)] | None = None
    decided_by: Reviewer | None = None


class ReferralReversedV1(Event):
    """A qualified referral was undone (refund inside the hold)."""

    event_type = "referrals.referral.reversed.v1"

    referral_id: Id
    advocate_customer_id: Id
    order_id: Id
    reason: ReasonCode
    occurred_at: UtcDatetime
