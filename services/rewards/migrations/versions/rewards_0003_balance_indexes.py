"""rewards: indexes that answer a batch's reads on their own — every customer's balances (a sum
over their whole ledger) and their order totals (trailing revenue, orders not refunded in full)

Revision ID: rewards_0003
Revises: rewards_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "rewards_0003"
down_revision: str | Sequence[str] | None = "rewards_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ledger_balance", "ledger_entries", ["customer_id", "unit", "status", "amount"])
    op.drop_index("ix_orders_customer", "orders")
    op.create_index(
        "ix_orders_customer", "orders", ["customer_id", "completed_at", "revenue", "refunded", "total"]
    )


def downgrade() -> None:
    op.drop_index("ix_orders_customer", "orders")
    op.create_index("ix_orders_customer", "orders", ["customer_id", "completed_at"])
    op.drop_index("ix_ledger_balance", "ledger_entries")
