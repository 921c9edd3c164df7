"""feedback: responses

Revision ID: feedback_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "feedback_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("feedback",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("response_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("submitted_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_responses_customer", "responses", ["customer_id"])


def downgrade() -> None:
    op.drop_table("responses")
