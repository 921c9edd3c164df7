"""chassis: an outbox row about a customer erased before it was published is forgotten once it is

Revision ID: chassis_0003
Revises: chassis_0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "chassis_0003"
down_revision: str | Sequence[str] | None = "chassis_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("forget_when_sent", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_outbox_forget",
        "outbox",
        ["id"],
        sqlite_where=sa.text("forget_when_sent IS NOT NULL"),
        postgresql_where=sa.text("forget_when_sent IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_forget", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("forget_when_sent")
