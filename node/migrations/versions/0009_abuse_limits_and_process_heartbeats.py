"""abuse limits and process heartbeats

Revision ID: 0009
Revises: 0013
Create Date: 2026-12-07 05:34:54.454472
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.core.timeutil

revision: str = "0009"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_beats",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("started_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("web_seen_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker_seen_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_beats")),
    )
    with op.batch_alter_table("process_beats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_process_beats_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "rate_counters",
        sa.Column("limit_name", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("window_start", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("limit_name", "subject", "window_start", name=op.f("pk_rate_counters")),
    )
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_counters_window_end"), ["window_end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counters_window_end"))

    op.drop_table("rate_counters")
    with op.batch_alter_table("process_beats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_beats_seen_at"))

    op.drop_table("process_beats")
