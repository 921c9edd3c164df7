"""Feedback events: survey answers (inbound) and what the feedback service decides (outbound)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from wom_contracts.base import Event
from wom_contracts.types import Id, Locale, Money, ReasonCode, UtcDatetime

__all__ = [
    "SCORE_RANGES",
    "CaseBreachedV1",
    "CaseOpenedV1",
    "CaseResolvedV1",
    "PromoterIdentifiedV1",
    "ResponseSubmittedV1",
]

SurveyKind = Literal["nps", "csat", "review"]
Priority = Literal["P1", "P2", "P3"]
Queue = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "review": (1, 5)}


def _score_range_rules(schema: dict[str, Any]) -> None:
    # the model's score check, as JSON Schema: one if/then a kind, from the same table
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"score": {"minimum": low, "maximum": high}}},
        }
        for kind, (low, high) in SCORE_RANGES.items()
    ]


class ResponseSubmittedV1(Event):
    """A customer answered a survey (NPS 0–10, CSAT 1–5, review 1–5)."""

    event_type = "feedback.response.submitted.v1"
    model_config = ConfigDict(json_schema_extra=_score_range_rules)

    response_id: Id
    order_id: Id | None = None
    kind: SurveyKind
    score: int
    comment: Annotated[str, StringConstraints(max_length=5000)] | None = None
    locale: Locale | None = None
    channel: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    submitted_at: UtcDatetime

    @model_validator(mode="after")
    def _score_fits_kind(self) -> ResponseSubmittedV1:
        low, high = SCORE_RANGES[self.kind]
        if not low <= self.score <= high:
            raise ValueError(f"score {self.score} is out of range {low}–{high} for kind {self.kind}")
        return self


class PromoterIdentifiedV1(Event):
    """A delighted customer without an open case: the moment to ask for a referral."""

    event_type = "feedback.promoter.identified.v1"

    response_id: Id
    kind: SurveyKind
    score: int
    locale: Locale | None = None
    occurred_at: UtcDatetime


class CaseOpenedV1(Event):
    """A remediation case was opened for support (or an answer joined the open one)."""

    event_type = "feedback.case.opened.v1"

    case_id: Id
    response_id: Id
    priority: Priority
    queue: Queue
    sla_due_at: UtcDatetime
    kind: SurveyKind
    score: int
    signals: list[ReasonCode] = Field(default_factory=list, max_length=32)
    key_client: bool = False
    occurred_at: UtcDatetime


class CaseResolvedV1(Event):
    """Support resolved a case, possibly with compensation for the customer."""

    event_type = "feedback.case.resolved.v1"

    case_id: Id
    resolution: ReasonCode
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None
    compensation: Money | None = None
    resolved_by: Annotated[str, StringConstraints(max_length=200)] | None = None
    occurred_at: UtcDatetime


class CaseRepliedV1(Event):
    """An agent wrote to the customer about their case: outreach sends it as a transactional
    mail in the case's thread, signed with the agent's name. `reply_id` is the reply's own: the
    same reply published twice is one mail."""

    event_type = "feedback.case.replied.v1"

    case_id: Id
    reply_id: Id
    message: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    """the agent's words, as written (plain text, in the customer's language)"""
    agent_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    """the display name the mail is signed with (not the login)"""
    occurred_at: UtcDatetime


class CaseBreachedV1(Event):
    """A case passed its SLA deadline unresolved and was escalated."""

    event_type = "feedback.case.breached.v1"

    case_id: Id
    priority: Priority
    queue: Queue
    sla_due_at: UtcDatetime
    occurred_at: UtcDatetime
