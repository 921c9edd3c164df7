"""feedback: escalation deliveries (webhooks and emails to support teams) and their log

Revision ID: feedback_0003
Revises: feedback_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "feedback_0003"
down_revision: str | Sequence[str] | None = "feedback_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("what", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_deliveries_case", "deliveries", ["case_id", "created_at"])
    op.create_index("ix_deliveries_status_due", "deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("deliveries")
