"""Tables of the referrals service: what it knows of customers and their orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, MetaData, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import UtcDateTime

__all__ = ["Base", "Customer", "Order", "Refund"]


class Base(DeclarativeBase):
    """Declarative base of the referrals tables."""

    metadata = MetaData()


class Customer(Base):
    """A registered customer and the code they signed up with, if any."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    signup_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Order(Base):
    """A completed order, as far as qualification and fraud rules need it."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer", "customer_id"),)

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    checkout_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payment_fingerprint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Refund(Base):
    """A refund of an order (it may arrive before the order)."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_order", "order_id"),)

    refund_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    refunded_at: Mapped[datetime] = mapped_column(UtcDateTime())
