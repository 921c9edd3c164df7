"""Tables of the outreach service: the contact projection and the messages it sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import UtcDateTime

__all__ = ["Base", "Contact", "Message"]


class Base(DeclarativeBase):
    """Declarative base of the outreach tables."""

    metadata = MetaData()


class Contact(Base):
    """What outreach knows of a customer, learnt from events only."""

    __tablename__ = "contacts"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locale: Mapped[str] = mapped_column(String(35))
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    marketing_consent: Mapped[bool] = mapped_column(Boolean)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Message(Base):
    """One message to one customer, from the event that caused it to its delivery."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("kind", "cause_event_id", name="uq_message_once_per_cause"),
        Index("ix_messages_due", "status", "next_attempt_at"),
        Index("ix_messages_customer", "customer_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    cause_event_id: Mapped[str] = mapped_column(String(255))
    # waiting (no contact yet) -> queued -> sent | failed; cancelled when the customer is erased
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
