"""matching: a provider's profile says the parts of the days of the week they are available in
(``slots``, a bit per morning, afternoon and evening of each day) rather than the days alone
(``weekdays``). The rows are built again by the next refresh (its cursor is removed).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 18:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _empty() -> None:
    op.execute("DELETE FROM match_profile_categories")
    op.execute("DELETE FROM match_profiles")
    op.execute("DELETE FROM match_cursors WHERE name LIKE 'profiles:%'")


def upgrade() -> None:
    _empty()
    with op.batch_alter_table("match_profiles") as batch:
        batch.alter_column("weekdays", new_column_name="slots")


def downgrade() -> None:
    _empty()
    with op.batch_alter_table("match_profiles") as batch:
        batch.alter_column("slots", new_column_name="weekdays")
