"""referrals: order, refund and referral amounts exact on every database (scaled integers)

Revision ID: referrals_0003
Revises: referrals_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from wom_chassis.columns import exact_decimal_column, numeric_column

revision: str = "referrals_0003"
down_revision: str | Sequence[str] | None = "referrals_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMOUNTS = (("orders", "amount", False), ("refunds", "amount", False), ("referrals", "order_amount", True))


def upgrade() -> None:
    for table, column, nullable in _AMOUNTS:
        exact_decimal_column(table, column, nullable=nullable)


def downgrade() -> None:
    for table, column, nullable in _AMOUNTS:
        numeric_column(table, column, nullable=nullable)
