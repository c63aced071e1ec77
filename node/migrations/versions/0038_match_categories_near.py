"""matching: the table of the providers' categories carries what the pre-filter of a demand reads of a
provider (place, radius, box, alerts, row version), and one index on all of it (category, latitude
first), so that the pre-filter reads that index alone instead of a row of ``match_profiles`` per
provider of the band. The rows are built again by the next refresh (its cursor is removed).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = [
    "category",
    "lat",
    "lon_min",
    "lon_max",
    "lat_min",
    "lat_max",
    "alerts",
    "user_id",
    "version",
    "lon",
    "radius_km",
]


def _create(columns: list[sa.Column[object]], index: str, on: list[str]) -> None:
    op.create_table(
        "match_profile_categories",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        *columns,
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["match_profiles.user_id"],
            name=op.f("fk_match_profile_categories_user_id_match_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "category", name=op.f("pk_match_profile_categories")),
    )
    op.create_index(index, "match_profile_categories", on, unique=False)


def _empty() -> None:
    op.execute("DELETE FROM match_profiles")
    op.execute("DELETE FROM match_cursors WHERE name LIKE 'profiles:%'")


def upgrade() -> None:
    op.drop_index("ix_match_profile_categories_category_lat", table_name="match_profile_categories")
    op.drop_table("match_profile_categories")
    _empty()
    columns: list[sa.Column[object]] = [
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("radius_km", sa.Float(), nullable=False),
        sa.Column("lat_min", sa.Float(), nullable=True),
        sa.Column("lat_max", sa.Float(), nullable=True),
        sa.Column("lon_min", sa.Float(), nullable=True),
        sa.Column("lon_max", sa.Float(), nullable=True),
        sa.Column("alerts", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
    ]
    _create(columns, "ix_match_profile_categories_near", INDEX)


def downgrade() -> None:
    op.drop_index("ix_match_profile_categories_near", table_name="match_profile_categories")
    op.drop_table("match_profile_categories")
    _empty()
    _create([], "ix_match_profile_categories_category_lat", ["category", "lat", "user_id"])
