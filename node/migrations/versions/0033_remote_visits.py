"""telemanagement: on a provider's node, the visits other nodes hold and gave to its people (shown on
their day, clocked back to the holder)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import node.core.timeutil

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tm_remote_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("holder_uri", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("starts_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("commune", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("checked_in_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_out_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["users.id"],
            name=op.f("fk_tm_remote_visits_provider_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_remote_visits")),
        sa.UniqueConstraint("uri", name=op.f("uq_tm_remote_visits_uri")),
    )
    with op.batch_alter_table("tm_remote_visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tm_remote_visits_provider_starts", ["provider_id", "starts_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tm_remote_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_tm_remote_visits_provider_starts")
    op.drop_table("tm_remote_visits")
