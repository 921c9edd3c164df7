"""feedback: classification of answers, tiers, remediation cases and their history

Revision ID: feedback_0002
Revises: feedback_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "feedback_0002"
down_revision: str | Sequence[str] | None = "feedback_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("category", sa.String(16), nullable=True))
        batch.add_column(sa.Column("signals", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("tier", sa.String(32), nullable=True))
        batch.add_column(sa.Column("case_id", sa.String(32), nullable=True))
    op.create_index("ix_responses_submitted", "responses", ["submitted_at"])
    op.create_table(
        "customer_tiers",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(32), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("open_for", sa.String(64), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("key_client", sa.Boolean(), nullable=False),
        sa.Column("tier", sa.String(32), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("sla_due_at", UtcDateTime(), nullable=False),
        sa.Column("first_response_id", sa.String(64), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", UtcDateTime(), nullable=True),
        sa.Column("breached_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolution", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("compensation_amount", sa.Numeric(18, 4), nullable=True),
        sa.Column("compensation_currency", sa.String(3), nullable=True),
    )
    op.create_index("ix_cases_customer", "cases", ["customer_id"])
    op.create_index("ix_cases_status_due", "cases", ["status", "sla_due_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id", "at"])
    op.create_table(
        "erased_customers",
        sa.Column("customer_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erased_customers")
    op.drop_table("case_events")
    op.drop_table("cases")
    op.drop_table("customer_tiers")
    op.drop_index("ix_responses_submitted", "responses")
    with op.batch_alter_table("responses") as batch:
        for column in ("case_id", "tier", "signals", "category"):
            batch.drop_column(column)
