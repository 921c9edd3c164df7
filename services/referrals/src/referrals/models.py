"""Tables of the referrals service: customers (as hashes), codes, clicks, orders, referrals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import ExactDecimal, UtcDateTime

__all__ = [
    "Base",
    "Click",
    "Customer",
    "ErasedCustomer",
    "Order",
    "Referral",
    "ReferralCode",
    "Refund",
    "ShareLinkVisitor",
    "UnknownCodeVisits",
]


class Base(DeclarativeBase):
    """Declarative base of the referrals tables."""

    metadata = MetaData()


class Customer(Base):
    """A registered customer as the fraud rules need them: emails, IPs and devices only as
    keyed hashes; the code they signed up with (kept while it is not known yet)."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_signup_code", "signup_code"),)

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    locale: Mapped[str] = mapped_column(String(35), default="en")
    email_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    disposable_email: Mapped[bool] = mapped_column(Boolean, default=False)
    ip_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signup_code: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ReferralCode(Base):
    """A customer's one referral code."""

    __tablename__ = "codes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Click(Base):
    """A visit of a share link, one per code, visitor and hour (`counted_hour`, the hour of the
    first): the code, the channel it was shared on, and the visitor only as a keyed hash of IP
    address and user agent."""

    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_advocate", "advocate_id"),
        Index("ix_clicks_clicked_at", "clicked_at"),
        UniqueConstraint("code", "visitor_hash", "counted_hour", name="uq_clicks_once_an_hour"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    advocate_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    visitor_hash: Mapped[str] = mapped_column(String(64))
    clicked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    counted_hour: Mapped[datetime] = mapped_column(UtcDateTime())


class ShareLinkVisitor(Base):
    """The share-link visits from one client address in its current minute (the rate limit),
    the address only as a keyed hash; a row a minute old is stale and is deleted by the sweep."""

    __tablename__ = "share_link_visitors"
    __table_args__ = (Index("ix_share_link_visitors_window", "window_start"),)

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    visits: Mapped[int] = mapped_column(Integer)


class UnknownCodeVisits(Base):
    """Visits of share links whose code nobody holds, per hour: the operator's view of guessing,
    written in the one statement a known code's click takes, so both answers cost the same."""

    __tablename__ = "unknown_code_visits"

    hour: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)


class Order(Base):
    """A completed order, as far as qualification and fraud rules need it."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer", "customer_id"),
        Index("ix_orders_checkout_code", "checkout_code"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
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
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    currency: Mapped[str] = mapped_column(String(3))
    refunded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Referral(Base):
    """A friend attributed to an advocate by a code, and what became of it.

    status: `attributed` (waiting for the first order) → `qualified` | `review` | `rejected`;
    `review` → `qualified` | `rejected` by an operator; `qualified` → `reversed` by a refund
    inside the hold. `standing_for` holds the friend's id on the friend's one standing
    attribution (first valid code wins); a code refused at attribution leaves it empty."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_friend", "friend_id"),
        Index("ix_referrals_advocate", "advocate_id"),
        Index("ix_referrals_status", "status"),
        Index("ix_referrals_order", "order_id"),
    )

    referral_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    friend_id: Mapped[str] = mapped_column(String(64))
    advocate_id: Mapped[str] = mapped_column(String(64))
    standing_for: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    code: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    attributed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attributing_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal(4), nullable=True)
    order_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    order_completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    risk_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    signals: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    note: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    hold_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ErasedCustomer(Base):
    """A customer who asked to be forgotten, kept only as a hash so late events are ignored."""

    __tablename__ = "erased_customers"

    customer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())
