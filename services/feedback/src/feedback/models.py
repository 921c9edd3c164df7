"""Tables of the feedback service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import UtcDateTime

__all__ = ["Base", "Response"]


class Base(DeclarativeBase):
    """Declarative base of the feedback tables."""

    metadata = MetaData()


class Response(Base):
    """One survey answer as received."""

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_customer", "customer_id"),)

    response_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
