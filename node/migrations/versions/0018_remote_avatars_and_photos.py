"""our copies of remote people's pictures, photos of proposals

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remote_actors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avatar", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("photos", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("photos")
    with op.batch_alter_table("remote_actors", schema=None) as batch_op:
        batch_op.drop_column("avatar")
