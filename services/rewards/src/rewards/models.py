"""Tables of the rewards service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wom_chassis import ExactDecimal, UtcDateTime
from wom_contracts import MEMBER

__all__ = [
    "Base",
    "Coupon",
    "Customer",
    "ErasedCustomer",
    "ExpiryReview",
    "LedgerEntry",
    "Order",
    "Redemption",
    "Referral",
    "Refund",
    "TierRanking",
    "WithheldReward",
]


class Base(DeclarativeBase):
    """Declarative base of the rewards tables."""

    metadata = MetaData()


class LedgerEntry(Base):
    """One movement of a customer's points, store credit or coupons. Amounts never change;
    a correction is a new entry. `status` moves pending → available at release, or to revoked
    when a pending reward is taken back. Every "once" of the domain is a `once_key`."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("once_key", name="uq_ledger_once"),
        Index("ix_ledger_customer", "customer_id", "created_at"),
        Index("ix_ledger_balance", "customer_id", "unit", "status", "amount"),  # balances from it alone
        Index("ix_ledger_release", "status", "hold_until"),
        Index("ix_ledger_order", "order_id"),
        Index("ix_ledger_referral", "referral_id"),
        Index("ix_ledger_offsets", "offsets_entry_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(8))  # "points", a currency (store credit), "coupon"
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))  # signed: grants > 0, debits < 0
    status: Mapped[str] = mapped_column(String(16))  # pending, available, revoked
    reason: Mapped[str] = mapped_column(String(64))
    once_key: Mapped[str] = mapped_column(String(200))
    source_event_id: Mapped[str] = mapped_column(String(255))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    offsets_entry_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    coupon_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reporting_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(4), nullable=True)
    hold_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Order(Base):
    """A completed order as far as rewards needs it: for refunds and trailing revenue."""

    __tablename__ = "orders"
    # trailing revenue and order counts from the index alone
    __table_args__ = (
        Index("ix_orders_customer", "customer_id", "completed_at", "revenue", "refunded", "total"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    refunded: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    revenue: Mapped[Decimal] = mapped_column(ExactDecimal(4))  # net, in the reporting currency
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source_event_id: Mapped[str] = mapped_column(String(255))


class Refund(Base):
    """A refund; `applied_at` is empty while it waits for its order (refund before order)."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_order", "order_id"),)

    refund_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    refunded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source_event_id: Mapped[str] = mapped_column(String(255))
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Customer(Base):
    """What rewards keeps of a customer: the birthday (for the gift) and the tier state."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_tier", "tier"),)

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tier: Mapped[str] = mapped_column(String(32), default=MEMBER)
    tier_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    below_threshold_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TierRanking(Base):
    """One full ranking of customers by trailing revenue: where the key-client line lay."""

    __tablename__ = "tier_rankings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    threshold: Mapped[Decimal | None] = mapped_column(ExactDecimal(4), nullable=True)
    ranked_customers: Mapped[int] = mapped_column(Integer)
    key_clients: Mapped[int] = mapped_column(Integer)


class Referral(Base):
    """A referral as rewards learnt it: qualified (rewarded or withheld) or reversed."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_advocate", "advocate_id", "qualified_at"),)

    referral_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    advocate_id: Mapped[str] = mapped_column(String(64))
    friend_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # qualified, reversed
    advocate_rewarded: Mapped[bool] = mapped_column(default=False)
    hold_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    qualified_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reversal_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WithheldReward(Base):
    """A reward the rules would give that a cap, a budget or a reversal withheld."""

    __tablename__ = "withheld_rewards"
    __table_args__ = (UniqueConstraint("once_key", name="uq_withheld_once"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    once_key: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_event_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Coupon(Base):
    """A coupon code and what it is worth (a referral reward or a redemption)."""

    __tablename__ = "coupons"
    __table_args__ = (Index("ix_coupons_customer", "customer_id"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(4))
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(16))  # referral, redemption
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Redemption(Base):
    """A redemption request, kept so that the same Idempotency-Key returns the same coupon."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("customer_id", "idempotency_key", name="uq_redemption_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request: Mapped[str] = mapped_column(String(200))  # the canonical request, to spot key reuse
    coupon_code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The API credential that asked for it (none on redemptions made before credentials had names)."""


class ExpiryReview(Base):
    """A points lot whose expiry was announced (`warned_at`) or carried out (`expired_at`)."""

    __tablename__ = "expiry_reviews"

    entry_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ErasedCustomer(Base):
    """A customer who asked to be forgotten, kept only as a hash so late events are ignored."""

    __tablename__ = "erased_customers"

    customer_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())
