"""The chassis' own tables, present in every service's database: inbox and outbox."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, MetaData, String, Table, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wom_chassis.columns import UtcDateTime

__all__ = ["ChassisBase", "InboxRecord", "OutboxRecord"]


class ChassisBase(DeclarativeBase):
    """Declarative base of the chassis tables (kept apart from each service's own metadata)."""

    metadata = MetaData()


class InboxRecord(ChassisBase):
    """One processed event id: its presence makes a redelivered event a no-op."""

    __tablename__ = "inbox"
    __table__: ClassVar[Table]  # for Core statements: the consume path inserts complete rows

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(255))
    source_topic: Mapped[str] = mapped_column(String(255))
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxRecord(ChassisBase):
    """An encoded event waiting to be published; written in the transaction of the state it announces."""

    __tablename__ = "outbox"
    __table__: ClassVar[Table]
    __table_args__ = (
        Index("ix_outbox_unsent", "sent_at", "id"),
        Index(
            "ix_outbox_forget",
            "id",
            sqlite_where=text("forget_when_sent IS NOT NULL"),
            postgresql_where=text("forget_when_sent IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    key: Mapped[bytes] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[list[list[str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # the W3C trace context of the unit of work that emitted the row: the relay publishes the
    # record as a child of it, so the trace runs on from the inbound event
    traceparent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tracestate: Mapped[str | None] = mapped_column(String(512), nullable=True)
    # true for a row about a customer erased before it was published: the relay deletes it once
    # it is (NULL for every other row: the insert names no value)
    forget_when_sent: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
