"""rewards: each redemption records the API credential that asked for it

Revision ID: rewards_0004
Revises: rewards_0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rewards_0004"
down_revision: str | Sequence[str] | None = "rewards_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("redemptions") as table:
        table.add_column(sa.Column("requested_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redemptions") as table:
        table.drop_column("requested_by")
