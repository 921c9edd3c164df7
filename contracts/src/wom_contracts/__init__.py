"""wom contracts: versioned event models, the topic registry and the CloudEvents codec."""

from wom_contracts.base import Event
from wom_contracts.codec import (
    DecodedEvent,
    Envelope,
    EventIds,
    InvalidEnvelope,
    InvalidEvent,
    KafkaRecord,
    decode,
    decode_envelope,
    encode,
    format_time,
)
from wom_contracts.commerce import (
    CustomerErasedV1,
    CustomerRegisteredV1,
    OrderCompletedV1,
    OrderItem,
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
from wom_contracts.registry import (
    EVENT_TYPES,
    ContractError,
    UnknownEventType,
    all_topics,
    model_for,
    topic_for,
)
from wom_contracts.rewards import (
    Balance,
    PointsExpiringV1,
    RewardGrantedV1,
    RewardRedeemedV1,
    RewardReleasedV1,
    RewardRevokedV1,
    RewardWithheldV1,
    TierChangedV1,
)
from wom_contracts.types import Money

__all__ = [
    "EVENT_TYPES",
    "Balance",
    "CaseBreachedV1",
    "CaseOpenedV1",
    "CaseResolvedV1",
    "CodeIssuedV1",
    "ContractError",
    "CustomerErasedV1",
    "CustomerRegisteredV1",
    "DecodedEvent",
    "Envelope",
    "Event",
    "EventIds",
    "InvalidEnvelope",
    "InvalidEvent",
    "KafkaRecord",
    "MessageFailedV1",
    "MessageSentV1",
    "MessageSuppressedV1",
    "Money",
    "OrderCompletedV1",
    "OrderItem",
    "OrderRefundedV1",
    "PointsExpiringV1",
    "PromoterIdentifiedV1",
    "ReferralAttributedV1",
    "ReferralQualifiedV1",
    "ReferralRejectedV1",
    "ReferralReversedV1",
    "ResponseSubmittedV1",
    "RewardGrantedV1",
    "RewardRedeemedV1",
    "RewardReleasedV1",
    "RewardRevokedV1",
    "RewardWithheldV1",
    "TierChangedV1",
    "UnknownEventType",
    "all_topics",
    "decode",
    "decode_envelope",
    "encode",
    "format_time",
    "model_for",
    "topic_for",
]
