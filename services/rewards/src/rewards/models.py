"""Tables of the rewards service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import UtcDateTime

__all__ = ["Base", "LedgerEntry"]


class Base(DeclarativeBase):
    """Declarative base of the rewards tables."""

    metadata = MetaData()


class LedgerEntry(Base):
    """One append-only movement of a customer's points; balances are sums of entries."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("kind", "order_id", name="uq_ledger_one_kind_per_order"),
        Index("ix_ledger_customer", "customer_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_event_id: Mapped[str] = mapped_column(String(255))
    hold_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
