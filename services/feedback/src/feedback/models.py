"""Tables of the feedback service: answers, tiers, remediation cases and their history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import ExactDecimal, UtcDateTime

__all__ = [
    "Base",
    "Case",
    "CaseEvent",
    "ConsoleSession",
    "CustomerEmail",
    "CustomerTier",
    "ErasedCustomer",
    "LoginThrottle",
    "Response",
    "TimelineEntry",
]


class Base(DeclarativeBase):
    """Declarative base of the feedback tables."""

    metadata = MetaData()


class Response(Base):
    """One survey answer as received, with its classification and the case it opened or joined."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_customer", "customer_id"),
        Index("ix_responses_submitted", "submitted_at"),
    )

    response_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """promoter | passive | detractor (NPS); positive | neutral | negative (CSAT, reviews)"""
    signals: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """negative signals read from the comment (reason codes such as `damaged`)"""
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """the customer's tier when they answered"""
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class CustomerTier(Base):
    """The customer's tier as rewards announced it (key clients come first)."""

    __tablename__ = "customer_tiers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Case(Base):
    """A remediation case: open → claimed → resolved; at most one open case per customer."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_customer", "customer_id"),
        Index("ix_cases_status_due", "status", "sla_due_at"),
    )

    case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    open_for: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    """the customer's id while the case is not resolved: one open case per customer"""
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(2))
    queue: Mapped[str] = mapped_column(String(64))
    key_client: Mapped[bool] = mapped_column(Boolean, default=False)
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sla_due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_response_id: Mapped[str] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    compensation_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal(4), nullable=True)
    compensation_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)


class CaseEvent(Base):
    """One line of a case's history: opened, joined, claimed, breached, resolved."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class CustomerEmail(Base):
    """How the console finds a customer by email: an HMAC of the address (FEEDBACK_SEARCH_SECRET),
    never the address."""

    __tablename__ = "customer_emails"
    __table_args__ = (Index("ix_customer_emails_hash", "email_hash"),)

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))


class TimelineEntry(Base):
    """A line of a customer's timeline, from another service's event (feedback.domain.timeline):
    `other_customer_id` is the other customer of a referral (the friend in the advocate's line)."""

    __tablename__ = "timeline_entries"
    __table_args__ = (
        Index("ix_timeline_customer", "customer_id", "at"),
        Index("ix_timeline_other", "other_customer_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    other_customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class ErasedCustomer(Base):
    """A customer who asked to be forgotten, kept only as a hash so late events are ignored."""

    __tablename__ = "erased_customers"

    customer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ConsoleSession(Base):
    """A signed-in agent's console session, so that logging out, a changed password or an agent
    taken out of the agents file ends it at once; the cookie holds its id, this row only the
    id's SHA-256 (a copy of the table signs nobody in)."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_login", "login"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(64))
    credential: Mapped[str] = mapped_column(String(64))
    """the SHA-256 of the agent's password hash when they logged in: another hash ends the session"""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginThrottle(Base):
    """Failed console logins of one login name or one client address (keyed by an HMAC of it,
    so neither is stored) and until when the next attempt is refused."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
