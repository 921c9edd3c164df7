"""referrals: codes, clicks, referrals, erased customers; customers keep hashes, not raw ids

Revision ID: referrals_0002
Revises: referrals_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "referrals_0002"
down_revision: str | Sequence[str] | None = "referrals_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the raw device id of the first slice goes: only keyed hashes are kept from now on
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("device_id")
        batch.add_column(sa.Column("locale", sa.String(35), nullable=False, server_default="en"))
        batch.add_column(sa.Column("email_hash", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("disposable_email", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("ip_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("device_hash", sa.String(64), nullable=True))
    op.create_index("ix_customers_signup_code", "customers", ["signup_code"])
    op.create_index("ix_orders_checkout_code", "orders", ["checkout_code"])
    op.create_table(
        "codes",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, unique=True),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "clicks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("advocate_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("visitor_hash", sa.String(64), nullable=False),
        sa.Column("clicked_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_clicks_advocate", "clicks", ["advocate_id"])
    op.create_index("ix_clicks_clicked_at", "clicks", ["clicked_at"])
    op.create_table(
        "referrals",
        sa.Column("referral_id", sa.String(32), primary_key=True),
        sa.Column("friend_id", sa.String(64), nullable=False),
        sa.Column("advocate_id", sa.String(64), nullable=False),
        sa.Column("standing_for", sa.String(64), nullable=True, unique=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("attributed_at", UtcDateTime(), nullable=False),
        sa.Column("attributing_order_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("order_amount", sa.Numeric(18, 4), nullable=True),
        sa.Column("order_currency", sa.String(3), nullable=True),
        sa.Column("order_completed_at", UtcDateTime(), nullable=True),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("hold_until", UtcDateTime(), nullable=True),
        sa.Column("reversed_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_referrals_friend", "referrals", ["friend_id"])
    op.create_index("ix_referrals_advocate", "referrals", ["advocate_id"])
    op.create_index("ix_referrals_status", "referrals", ["status"])
    op.create_index("ix_referrals_order", "referrals", ["order_id"])
    op.create_table(
        "erased_customers",
        sa.Column("customer_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erased_customers")
    op.drop_table("referrals")
    op.drop_table("clicks")
    op.drop_table("codes")
    op.drop_index("ix_orders_checkout_code", "orders")
    op.drop_index("ix_customers_signup_code", "customers")
    with op.batch_alter_table("customers") as batch:
        for column in ("device_hash", "ip_hash", "disposable_email", "email_hash", "locale"):
            batch.drop_column(column)
        batch.add_column(sa.Column("device_id", sa.String(128), nullable=True))
