"""The topic registry: event type ↔ topic ↔ model. Topic = event type."""

from __future__ import annotations

from wom_contracts.base import Event
from wom_contracts.commerce import (
    CustomerErasedV1,
    CustomerRegisteredV1,
    OrderCompletedV1,
    OrderRefundedV1,
)
from wom_contracts.feedback import (
    CaseBreachedV1,
    CaseOpenedV1,
    CaseResolvedV1,
    PromoterIdentifiedV1,
    ResponseSubmittedV1,
)
from wom_contracts.outreach import MessageFailedV1, MessageSentV1, MessageSuppressedV1
from wom_contracts.referrals import (
    CodeIssuedV1,
    ReferralAttributedV1,
    ReferralQualifiedV1,
    ReferralRejectedV1,
    ReferralReversedV1,
)
from wom_contracts.rewards import (
    PointsExpiringV1,
    RewardGrantedV1,
    RewardRedeemedV1,
    RewardReleasedV1,
    RewardRevokedV1,
    RewardWithheldV1,
    TierChangedV1,
)

__all__ = ["EVENT_TYPES", "ContractError", "UnknownEventType", "all_topics", "model_for", "topic_for"]

_MODELS: list[type[Event]] = [
    CustomerRegisteredV1, OrderCompletedV1, OrderRefundedV1, CustomerErasedV1,
    ResponseSubmittedV1,
    CodeIssuedV1, ReferralAttributedV1, ReferralQualifiedV1, ReferralRejectedV1,
    ReferralReversedV1,
    RewardGrantedV1, RewardReleasedV1, RewardRevokedV1, TierChangedV1, PointsExpiringV1,
    RewardWithheldV1, RewardRedeemedV1,
    PromoterIdentifiedV1, CaseOpenedV1, CaseResolvedV1, CaseBreachedV1,
    MessageSentV1, MessageFailedV1, MessageSuppressedV1,
]  # fmt: skip

EVENT_TYPES: dict[str, type[Event]] = {model.event_type: model for model in _MODELS}


class ContractError(Exception):
    """A record that does not honour the contracts; `reason` is a stable code."""

    reason = "contract_error"


class UnknownEventType(ContractError, KeyError):
    """No model is registered for the event type."""

    reason = "unknown_event_type"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown event type"


def model_for(event_type: str) -> type[Event]:
    """The model of `event_type`; UnknownEventType when none is registered."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def topic_for(event: Event | type[Event]) -> str:
    """The topic an event is published to: its type."""
    return event.event_type


def all_topics() -> list[str]:
    """Every event topic, sorted."""
    return sorted(EVENT_TYPES)
