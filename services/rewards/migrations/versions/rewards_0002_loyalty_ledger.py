"""rewards: the complete loyalty ledger — amounts in units, once keys, orders, refunds, tiers,
referrals, coupons, redemptions, expiry reviews, erasures

Revision ID: rewards_0002
Revises: rewards_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import ExactDecimal, UtcDateTime

revision: str = "rewards_0002"
down_revision: str | Sequence[str] | None = "rewards_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("unit", sa.String(8), nullable=False, server_default="points"))
        batch.add_column(sa.Column("amount", ExactDecimal(4), nullable=False, server_default="0"))
        batch.add_column(sa.Column("once_key", sa.String(200), nullable=True))
        for column in ("refund_id", "referral_id", "case_id"):
            batch.add_column(sa.Column(column, ID, nullable=True))
        batch.add_column(sa.Column("offsets_entry_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("coupon_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reporting_value", ExactDecimal(4), nullable=True))
        batch.add_column(sa.Column("expires_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("released_at", UtcDateTime(), nullable=True))
    # the foundation's entries were purchase points: amount in ten-thousandths, once per order
    op.execute("UPDATE ledger_entries SET amount = points * 10000, once_key = kind || ':' || order_id")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_constraint("uq_ledger_one_kind_per_order", type_="unique")
        batch.drop_index("ix_ledger_customer")
        batch.drop_column("points")
        batch.alter_column("once_key", existing_type=sa.String(200), nullable=False)
        batch.alter_column("id", existing_type=sa.String(64), type_=sa.String(32))
        batch.create_unique_constraint("uq_ledger_once", ["once_key"])
    op.create_index("ix_ledger_customer", "ledger_entries", ["customer_id", "created_at"])
    op.create_index("ix_ledger_release", "ledger_entries", ["status", "hold_until"])
    op.create_index("ix_ledger_order", "ledger_entries", ["order_id"])
    op.create_index("ix_ledger_referral", "ledger_entries", ["referral_id"])
    op.create_index("ix_ledger_offsets", "ledger_entries", ["offsets_entry_id"])

    op.create_table(
        "orders",
        sa.Column("order_id", ID, primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", ExactDecimal(4), nullable=False),
        sa.Column("refunded", ExactDecimal(4), nullable=False),
        sa.Column("revenue", ExactDecimal(4), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=False),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id", "completed_at"])
    op.create_table(
        "refunds",
        sa.Column("refund_id", ID, primary_key=True),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", ExactDecimal(4), nullable=False),
        sa.Column("refunded_at", UtcDateTime(), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=False),
        sa.Column("applied_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_refunds_order", "refunds", ["order_id"])
    op.create_table(
        "customers",
        sa.Column("customer_id", ID, primary_key=True),
        sa.Column("birthday", sa.Date, nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("tier_since", UtcDateTime(), nullable=True),
        sa.Column("below_threshold_since", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_customers_tier", "customers", ["tier"])
    op.create_table(
        "tier_rankings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("computed_at", UtcDateTime(), nullable=False),
        sa.Column("threshold", ExactDecimal(4), nullable=True),
        sa.Column("ranked_customers", sa.Integer, nullable=False),
        sa.Column("key_clients", sa.Integer, nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("referral_id", ID, primary_key=True),
        sa.Column("advocate_id", ID, nullable=False),
        sa.Column("friend_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("advocate_rewarded", sa.Boolean, nullable=False),
        sa.Column("hold_until", UtcDateTime(), nullable=True),
        sa.Column("qualified_at", UtcDateTime(), nullable=True),
        sa.Column("reversed_at", UtcDateTime(), nullable=True),
        sa.Column("reversal_reason", sa.String(64), nullable=True),
    )
    op.create_index("ix_referrals_advocate", "referrals", ["advocate_id", "qualified_at"])
    op.create_table(
        "withheld_rewards",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("once_key", sa.String(200), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("amount", ExactDecimal(4), nullable=False),
        sa.Column("referral_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("source_event_id", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("once_key", name="uq_withheld_once"),
    )
    op.create_table(
        "coupons",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("amount", ExactDecimal(4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("valid_from", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_coupons_customer", "coupons", ["customer_id"])
    op.create_table(
        "redemptions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request", sa.String(200), nullable=False),
        sa.Column("coupon_code", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_redemption_key"),
    )
    op.create_table(
        "expiry_reviews",
        sa.Column("entry_id", sa.String(32), primary_key=True),
        sa.Column("warned_at", UtcDateTime(), nullable=True),
        sa.Column("expired_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "erased_customers",
        sa.Column("customer_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "erased_customers", "expiry_reviews", "redemptions", "coupons", "withheld_rewards",
        "referrals", "tier_rankings", "customers", "refunds", "orders",
    ):  # fmt: skip
        op.drop_table(table)
    for index in ("ix_ledger_offsets", "ix_ledger_referral", "ix_ledger_order", "ix_ledger_release",
                  "ix_ledger_customer"):  # fmt: skip
        op.drop_index(index, "ledger_entries")
    op.execute("DELETE FROM ledger_entries WHERE kind <> 'earn' OR unit <> 'points'")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("points", sa.Integer, nullable=False, server_default="0"))
    op.execute("UPDATE ledger_entries SET points = amount / 10000")
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_constraint("uq_ledger_once", type_="unique")
        for column in ("released_at", "expires_at", "reporting_value", "coupon_code", "offsets_entry_id",
                       "case_id", "referral_id", "refund_id", "once_key", "amount", "unit"):  # fmt: skip
            batch.drop_column(column)
        batch.create_unique_constraint("uq_ledger_one_kind_per_order", ["kind", "order_id"])
    op.create_index("ix_ledger_customer", "ledger_entries", ["customer_id"])
