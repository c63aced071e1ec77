"""e-mails: the choice for the hours received on one's time account (at once by default)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 15:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_preferences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timebank", sa.String(length=16), nullable=False, server_default="immediately")
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_preferences", schema=None) as batch_op:
        batch_op.drop_column("timebank")
