"""Tables of the outreach service: the contact projection, the messages (which are also the
durable schedule) and the register of erased customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import UtcDateTime
from wom_contracts import MEMBER

__all__ = ["Base", "Contact", "ErasedCustomer", "Message"]


class Base(DeclarativeBase):
    """Declarative base of the outreach tables."""

    metadata = MetaData()


class Contact(Base):
    """What outreach knows of a customer, each field from the event that carries it."""

    __tablename__ = "contacts"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    locale: Mapped[str] = mapped_column(String(35), default="en")
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    last_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    tier: Mapped[str] = mapped_column(String(32), default=MEMBER)
    referral_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    share_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    points_available: Mapped[int] = mapped_column(Integer, default=0)
    points_pending: Mapped[int] = mapped_column(Integer, default=0)
    open_case_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def stage(self) -> str:
        """prospect (no order yet), customer (one order) or repeat_buyer."""
        return (
            "prospect" if self.order_count == 0 else "customer" if self.order_count == 1 else "repeat_buyer"
        )


class Message(Base):
    """One message to one customer on one channel, from the event (or date) that caused it to
    its delivery. A queued message whose `next_attempt_at` lies ahead is scheduled: delayed
    check-ins, birthdays and quiet-hour deferrals wait here, across restarts."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("kind", "cause_event_id", "channel", name="uq_message_once_per_cause"),
        Index("ix_messages_due", "status", "next_attempt_at"),
        Index("ix_messages_customer", "customer_id", "status"),  # a sign-up releases its waiting ones
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    message_class: Mapped[str] = mapped_column(String(16), default="transactional")
    channel: Mapped[str] = mapped_column(String(16))
    cause_event_id: Mapped[str] = mapped_column(String(255))
    # waiting (no contact yet) -> queued -> sent | failed | suppressed; cancelled when erased
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # the trace of the event that queued the message: its delivery, however late, continues it
    traceparent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tracestate: Mapped[str | None] = mapped_column(String(512), nullable=True)


class ErasedCustomer(Base):
    """A customer who asked to be forgotten, kept only as a hash so late events are ignored."""

    __tablename__ = "erased_customers"

    customer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())
