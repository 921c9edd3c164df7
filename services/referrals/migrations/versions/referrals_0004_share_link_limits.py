"""referrals: one click per code, visitor and hour; share-link visits per address (the rate
limit); visits of unknown codes per hour

Revision ID: referrals_0004
Revises: referrals_0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from wom_chassis import UtcDateTime

revision: str = "referrals_0004"
down_revision: str | Sequence[str] | None = "referrals_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clicks") as batch:
        batch.add_column(sa.Column("counted_hour", UtcDateTime(), nullable=True))
    clicks = sa.table(
        "clicks",
        sa.column("id", sa.String),
        sa.column("code", sa.String),
        sa.column("visitor_hash", sa.String),
        sa.column("clicked_at", UtcDateTime()),
        sa.column("counted_hour", UtcDateTime()),
    )
    connection = op.get_bind()
    # the clicks so far, counted as from now on: the first of each code, visitor and hour stays
    seen: set[tuple[str, str, object]] = set()
    extra: list[str] = []
    for row in connection.execute(sa.select(clicks).order_by(clicks.c.clicked_at, clicks.c.id)):
        hour = row.clicked_at.replace(minute=0, second=0, microsecond=0)
        if (row.code, row.visitor_hash, hour) in seen:
            extra.append(row.id)
            continue
        seen.add((row.code, row.visitor_hash, hour))
        connection.execute(sa.update(clicks).where(clicks.c.id == row.id).values(counted_hour=hour))
    for start in range(0, len(extra), 500):
        connection.execute(sa.delete(clicks).where(clicks.c.id.in_(extra[start : start + 500])))
    with op.batch_alter_table("clicks") as batch:
        batch.alter_column("counted_hour", existing_type=UtcDateTime(), nullable=False)
        batch.create_unique_constraint("uq_clicks_once_an_hour", ["code", "visitor_hash", "counted_hour"])
    op.create_table(
        "share_link_visitors",
        sa.Column("address_hash", sa.String(64), primary_key=True),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
    )
    op.create_index("ix_share_link_visitors_window", "share_link_visitors", ["window_start"])
    op.create_table(
        "unknown_code_visits",
        sa.Column("hour", UtcDateTime(), primary_key=True),
        sa.Column("visits", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unknown_code_visits")
    op.drop_index("ix_share_link_visitors_window", table_name="share_link_visitors")
    op.drop_table("share_link_visitors")
    with op.batch_alter_table("clicks") as batch:
        batch.drop_constraint("uq_clicks_once_an_hour", type_="unique")
        batch.drop_column("counted_hour")
