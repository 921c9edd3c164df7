"""outreach: a customer's messages indexed with their status, so that releasing the ones waiting
for a sign-up reads that customer's rows, not every waiting message (SQLite chose the due index
for `status = 'waiting'` and scanned all of them on every sign-up)

Revision ID: outreach_0004
Revises: outreach_0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "outreach_0004"
down_revision: str | Sequence[str] | None = "outreach_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_messages_customer", table_name="messages")
    op.create_index("ix_messages_customer", "messages", ["customer_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_messages_customer", table_name="messages")
    op.create_index("ix_messages_customer", "messages", ["customer_id"])
