"""feedback: a case's compensation amount exact on every database (a scaled integer)

Revision ID: feedback_0005
Revises: feedback_0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from wom_chassis.columns import exact_decimal_column, numeric_column

revision: str = "feedback_0005"
down_revision: str | Sequence[str] | None = "feedback_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    exact_decimal_column("cases", "compensation_amount", nullable=True)


def downgrade() -> None:
    numeric_column("cases", "compensation_amount", nullable=True)
