"""matching: the providers' profiles say whether the person opted in to match alerts (the job's
pre-filter keeps only them) and carry a version, a digest of what scoring reads of the row, so that a
ranking keeps each version's words in memory and reads from the table only the rows it has not seen.
A table of the providers' categories with their latitude lets the pre-filter read only the providers
of the demand's group within the band (index on category, latitude). The rows are built again by the
next refresh (its cursor is removed).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 16:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM match_profiles")
    op.execute("DELETE FROM match_cursors WHERE name LIKE 'profiles:%'")
    with op.batch_alter_table("match_profiles") as batch:
        batch.add_column(sa.Column("alerts", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "match_profile_categories",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["match_profiles.user_id"],
            name=op.f("fk_match_profile_categories_user_id_match_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "category", name=op.f("pk_match_profile_categories")),
    )
    op.create_index(
        "ix_match_profile_categories_category_lat",
        "match_profile_categories",
        ["category", "lat", "user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_match_profile_categories_category_lat", table_name="match_profile_categories")
    op.drop_table("match_profile_categories")
    op.execute("DELETE FROM match_profiles")
    op.execute("DELETE FROM match_cursors WHERE name LIKE 'profiles:%'")
    with op.batch_alter_table("match_profiles") as batch:
        batch.drop_column("version")
        batch.drop_column("alerts")
