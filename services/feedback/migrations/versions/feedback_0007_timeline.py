"""feedback: the customers' timelines, from the other services' events, and their email hashes

Revision ID: feedback_0007
Revises: feedback_0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "feedback_0007"
down_revision: str | Sequence[str] | None = "feedback_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("other_customer_id", sa.String(64), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_timeline_customer", "timeline_entries", ["customer_id", "at"])
    op.create_index("ix_timeline_other", "timeline_entries", ["other_customer_id"])
    op.create_table(
        "customer_emails",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_customer_emails_hash", "customer_emails", ["email_hash"])


def downgrade() -> None:
    op.drop_table("customer_emails")
    op.drop_table("timeline_entries")
