"""search: on PostgreSQL, the text-search vectors of the proposals' text and title stored in columns
(``search_vector``, ``title_vector``: generated, so kept in step by the database) with a GIN index each

Checking one row against the words then reads its stored vector instead of computing ``to_tsvector``
(a fraction of a millisecond a row), so a search of a common word can walk the date index, or the box of
a radius, and stop at its page; and the planner, which has statistics on the columns, chooses between
that walk and the GIN index's bitmap by the words' frequency. The titles' vector replaces the expression
index of migration 0030; the expression index of migration 0010 stays (the bare lookup of the bench and
any query written on the expression use it).

SQLite needs nothing: the FTS5 table ``proposals_fts`` already holds both.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 18:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column, source in (("search_vector", "search_text"), ("title_vector", "title")):
        op.execute(
            f"ALTER TABLE proposals ADD COLUMN {column} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('asasap_french'::regconfig, {source})) STORED"
        )
        op.execute(f"CREATE INDEX ix_proposals_{column} ON proposals USING gin ({column})")
    op.execute("DROP INDEX IF EXISTS ix_proposals_title_fts")
    op.execute("ANALYZE proposals")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_proposals_title_fts ON proposals USING gin (to_tsvector('asasap_french', title))"
    )
    for column in ("search_vector", "title_vector"):
        op.execute(f"DROP INDEX IF EXISTS ix_proposals_{column}")
        op.execute(f"ALTER TABLE proposals DROP COLUMN {column}")
