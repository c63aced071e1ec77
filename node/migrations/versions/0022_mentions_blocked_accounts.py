"""mentions of our proposals by notes of other servers, counted once per actor and note; accounts of
other servers blocked by moderators

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 13:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.core.timeutil

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposal_mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("actor_uri", sa.String(length=2048), nullable=False),
        sa.Column("note_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "actor_uri", "note_uri"),
    )
    op.create_index(
        op.f("ix_proposal_mentions_proposal_id"), "proposal_mentions", ["proposal_id"], unique=False
    )
    op.create_table(
        "blocked_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_uri", sa.String(length=2048), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("actor_uri"),
    )


def downgrade() -> None:
    op.drop_table("blocked_accounts")
    op.drop_index(op.f("ix_proposal_mentions_proposal_id"), table_name="proposal_mentions")
    op.drop_table("proposal_mentions")
