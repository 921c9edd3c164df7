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
    CaseRepliedV1,
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

__all__ = [
    "EVENT_TYPES",
    "SERVICES",
    "UPSTREAM_TYPES",
    "ContractError",
    "UnknownEventType",
    "all_topics",
    "model_for",
    "producers_of",
    "service_source",
    "topic_for",
]

_MODELS: list[type[Event]] = [
    CustomerRegisteredV1, OrderCompletedV1, OrderRefundedV1, CustomerErasedV1,
    ResponseSubmittedV1,
    CodeIssuedV1, ReferralAttributedV1, ReferralQualifiedV1, ReferralRejectedV1,
    ReferralReversedV1,
    RewardGrantedV1, RewardReleasedV1, RewardRevokedV1, TierChangedV1, PointsExpiringV1,
    RewardWithheldV1, RewardRedeemedV1,
    PromoterIdentifiedV1, CaseOpenedV1, CaseResolvedV1, CaseBreachedV1, CaseRepliedV1,
    MessageSentV1, MessageFailedV1, MessageSuppressedV1,
]  # fmt: skip

EVENT_TYPES: dict[str, type[Event]] = {model.event_type: model for model in _MODELS}

SERVICES = ("referrals", "rewards", "outreach", "feedback")
"""wom's services; each publishes the event types named after it, `<service>.…`."""

UPSTREAM_TYPES: frozenset[str] = frozenset(
    model.event_type
    for model in (
        CustomerRegisteredV1,
        OrderCompletedV1,
        OrderRefundedV1,
        CustomerErasedV1,
        ResponseSubmittedV1,
    )
)
"""The event types upstream systems publish: the shop's, and survey tools' answers (which the
feedback service's intake publishes too)."""


def service_source(service: str) -> str:
    """The CloudEvents `source` of the events a wom service publishes."""
    return f"wom/{service}"


def producers_of(event_type: str, upstream: frozenset[str] | None) -> frozenset[str] | None:
    """The `ce_source` values a record of `event_type` may carry: its service's for a wom event,
    `upstream` (the deployment's upstream publishers) for an upstream one; None: any (upstream
    publishers not named, development only)."""
    owner = event_type.split(".", 1)[0]
    own = frozenset({service_source(owner)}) if owner in SERVICES else frozenset()
    if event_type in UPSTREAM_TYPES:
        return None if upstream is None else own | upstream
    return own


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
