"""Events of the outreach service."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from wom_contracts.base import Event
from wom_contracts.types import Id, Locale, ReasonCode, UtcDatetime

__all__ = ["MessageFailedV1", "MessageSentV1", "MessageSuppressedV1"]

Kind = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Channel = Literal["email", "webhook"]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class _MessageEvent(Event):
    message_id: Id
    kind: Kind
    channel: Channel
    cause_event_id: EventId
    occurred_at: UtcDatetime


class MessageSentV1(_MessageEvent):
    """A message was handed to its channel."""

    event_type = "outreach.message.sent.v1"

    locale: Locale
    template: Annotated[str, StringConstraints(max_length=200)]


class MessageFailedV1(_MessageEvent):
    """A message could not be delivered after its last attempt."""

    event_type = "outreach.message.failed.v1"

    locale: Locale | None = None
    error: Annotated[str, StringConstraints(max_length=2000)]
    attempts: int


class MessageSuppressedV1(_MessageEvent):
    """A message was not sent, and why (no consent, frequency cap, quiet hours, erased ...)."""

    event_type = "outreach.message.suppressed.v1"

    reason: ReasonCode
