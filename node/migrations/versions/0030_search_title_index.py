"""search: on PostgreSQL, a GIN index on the titles' text-search vectors, so that the first rank of
relevance (the title alone matches the words) is read from an index rather than computed for every match

SQLite needs nothing: the FTS5 table ``proposals_fts`` already indexes ``title_terms`` as a column.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_proposals_title_fts ON proposals USING gin (to_tsvector('asasap_french', title))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_proposals_title_fts")
