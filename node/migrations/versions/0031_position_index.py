"""search: an index on the open proposals' positions, ``(state, latitude, longitude)``, so that a search
within a radius reads the rows of its bounding box's band of latitude (the longitudes checked in the
index) rather than every proposal, and a search sorted by distance can read its nearest matches first

A plain B-tree on both databases (no spatial extension): the box is
``state = 'open' AND latitude BETWEEN south AND north AND longitude BETWEEN west AND east``.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_proposals_state_position", "proposals", ["state", "latitude", "longitude"])


def downgrade() -> None:
    op.drop_index("ix_proposals_state_position", table_name="proposals")
