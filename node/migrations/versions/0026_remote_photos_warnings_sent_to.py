"""when the photos of a remote proposal are to be copied; to whom a moderation warning was sent

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 15:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.core.timeutil

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("photos_due_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_proposals_photos_due_at"), ["photos_due_at"], unique=False)
    with op.batch_alter_table("moderation_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_to", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("moderation_decisions", schema=None) as batch_op:
        batch_op.drop_column("sent_to")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_photos_due_at"))
        batch_op.drop_column("photos_due_at")
