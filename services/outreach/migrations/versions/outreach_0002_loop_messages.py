"""outreach: the full contact projection, message classes and reasons, schedule, erased register

Revision ID: outreach_0002
Revises: outreach_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "outreach_0002"
down_revision: str | Sequence[str] | None = "outreach_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT_COLUMNS = (
    sa.Column("unsubscribed_at", UtcDateTime(), nullable=True),
    sa.Column("birthday", sa.Date(), nullable=True),
    sa.Column("order_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_order_at", UtcDateTime(), nullable=True),
    sa.Column("tier", sa.String(32), nullable=False, server_default="member"),
    sa.Column("referral_code", sa.String(64), nullable=True),
    sa.Column("share_url", sa.String(500), nullable=True),
    sa.Column("points_available", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("points_pending", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("open_case_id", sa.String(64), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        # a contact can be known from other events before its registration arrives
        batch.alter_column("email", existing_type=sa.String(320), nullable=True)
        batch.alter_column("registered_at", existing_type=UtcDateTime(), nullable=True)
        for column in CONTACT_COLUMNS:
            batch.add_column(column)
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_message_once_per_cause", type_="unique")
        batch.add_column(sa.Column("message_class", sa.String(16), nullable=False, server_default="transactional"))
        batch.add_column(sa.Column("reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("due_at", UtcDateTime(), nullable=True))
        batch.create_unique_constraint("uq_message_once_per_cause", ["kind", "cause_event_id", "channel"])
    op.create_table(
        "erased_customers",
        sa.Column("customer_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erased_customers")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_message_once_per_cause", type_="unique")
        for name in ("due_at", "reason", "message_class"):
            batch.drop_column(name)
        batch.create_unique_constraint("uq_message_once_per_cause", ["kind", "cause_event_id"])
    with op.batch_alter_table("contacts") as batch:
        for column in reversed(CONTACT_COLUMNS):
            batch.drop_column(column.name)
