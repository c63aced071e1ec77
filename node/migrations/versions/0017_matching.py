"""matching: people's radius and alert opt-in, notices made, the periodic pass's cursors

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.core.timeutil

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("radius_km", sa.Integer(), nullable=True),
        sa.Column("alerts", sa.Boolean(), nullable=False),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_match_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_match_settings")),
    )
    op.create_table(
        "match_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_match_notices_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_match_notices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_notices")),
        sa.UniqueConstraint("proposal_id", "user_id", name=op.f("uq_match_notices_proposal_id")),
    )
    op.create_index("ix_match_notices_user_id_created_at", "match_notices", ["user_id", "created_at"])
    op.create_table(
        "match_cursors",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("seen_up_to", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_match_cursors")),
    )
    # Proposals stored before matching existed are not news: the passes start after them.
    op.execute(
        "INSERT INTO match_cursors (name, seen_up_to) "
        "SELECT 'demands', COALESCE(MAX(id), 0) FROM proposals "
        "UNION ALL SELECT 'offers', COALESCE(MAX(id), 0) FROM proposals"
    )


def downgrade() -> None:
    op.drop_table("match_cursors")
    op.drop_index("ix_match_notices_user_id_created_at", table_name="match_notices")
    op.drop_table("match_notices")
    op.drop_table("match_settings")
