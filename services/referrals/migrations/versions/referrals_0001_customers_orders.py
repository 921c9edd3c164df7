"""referrals: customers, orders, refunds

Revision ID: referrals_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "referrals_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("referrals",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("registered_at", UtcDateTime(), nullable=False),
        sa.Column("signup_code", sa.String(64), nullable=True),
        sa.Column("device_id", sa.String(128), nullable=True),
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.Numeric(18, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("checkout_code", sa.String(64), nullable=True),
        sa.Column("payment_fingerprint", sa.String(255), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_orders_customer", "orders", ["customer_id"])
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.Numeric(18, 4), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refunded_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_refunds_order", "refunds", ["order_id"])


def downgrade() -> None:
    op.drop_table("refunds")
    op.drop_table("orders")
    op.drop_table("customers")
