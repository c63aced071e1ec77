"""matching: the providers' profiles as ranking reads them (match_profiles), and indexes on the
updated_at of proposals, users and match_settings for its refresh

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import node.core.timeutil

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("radius_km", sa.Float(), nullable=False),
        sa.Column("lat_min", sa.Float(), nullable=True),
        sa.Column("lat_max", sa.Float(), nullable=True),
        sa.Column("lon_min", sa.Float(), nullable=True),
        sa.Column("lon_max", sa.Float(), nullable=True),
        sa.Column("weekdays", sa.Integer(), nullable=True),
        sa.Column("reputation_mean", sa.Numeric(4, 2), nullable=True),
        sa.Column("reputation_count", sa.Integer(), nullable=False),
        sa.Column("price_amount", sa.Numeric(10, 2), nullable=True),
        sa.Column("price_currency", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
        sa.Column("price_basis", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("last_active_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_match_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_match_profiles")),
    )
    op.create_index("ix_match_profiles_lat", "match_profiles", ["lat"], unique=False)
    op.create_index("ix_match_profiles_radius_km", "match_profiles", ["radius_km"], unique=False)
    # what matching's refresh reads: who changed since the last one
    op.create_index(op.f("ix_proposals_updated_at"), "proposals", ["updated_at"], unique=False)
    op.create_index(op.f("ix_users_updated_at"), "users", ["updated_at"], unique=False)
    op.create_index(op.f("ix_match_settings_updated_at"), "match_settings", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_match_settings_updated_at"), table_name="match_settings")
    op.drop_index(op.f("ix_users_updated_at"), table_name="users")
    op.drop_index(op.f("ix_proposals_updated_at"), table_name="proposals")
    op.drop_index("ix_match_profiles_radius_km", table_name="match_profiles")
    op.drop_index("ix_match_profiles_lat", table_name="match_profiles")
    op.drop_table("match_profiles")
