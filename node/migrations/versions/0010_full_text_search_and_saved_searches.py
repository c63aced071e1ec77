"""full-text search of proposals and saved searches

SQLite: an FTS5 table over ``proposals.title_terms`` and ``proposals.search_terms`` (French stems made in
Python, :mod:`node.core.textsearch`), kept in step by triggers. A later migration that rebuilds the
``proposals`` table on SQLite (batch mode copies it) drops these triggers and must create them again;
``tests/search/test_index.py`` checks they exist at the head.
PostgreSQL: the ``unaccent`` extension when the server has it, a text search configuration
``asasap_french`` (``french`` with ``unaccent`` before the stemmer) and a GIN index on
``to_tsvector('asasap_french', search_text)``.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07 09:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.core.timeutil
from node.core.textsearch import terms

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = {
    "proposals_fts_insert": """
        CREATE TRIGGER proposals_fts_insert AFTER INSERT ON proposals BEGIN
          INSERT INTO proposals_fts(rowid, title_terms, search_terms)
          VALUES (new.id, new.title_terms, new.search_terms);
        END""",
    "proposals_fts_delete": """
        CREATE TRIGGER proposals_fts_delete AFTER DELETE ON proposals BEGIN
          INSERT INTO proposals_fts(proposals_fts, rowid, title_terms, search_terms)
          VALUES ('delete', old.id, old.title_terms, old.search_terms);
        END""",
    "proposals_fts_update": """
        CREATE TRIGGER proposals_fts_update AFTER UPDATE OF title_terms, search_terms ON proposals BEGIN
          INSERT INTO proposals_fts(proposals_fts, rowid, title_terms, search_terms)
          VALUES ('delete', old.id, old.title_terms, old.search_terms);
          INSERT INTO proposals_fts(rowid, title_terms, search_terms)
          VALUES (new.id, new.title_terms, new.search_terms);
        END""",
}


def _fill_terms() -> None:
    """Existing proposals get their stems (their search_text is folded already)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, search_text FROM proposals")).all()
    for row_id, title, search_text in rows:
        bind.execute(
            sa.text("UPDATE proposals SET title_terms = :t, search_terms = :s WHERE id = :id"),
            {"t": terms(title or ""), "s": terms(search_text or ""), "id": row_id},
        )


def _postgresql_upgrade() -> None:
    bind = op.get_bind()
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'")).first()
    has_unaccent = False
    if available is not None:
        # Creating an extension may need more rights than the node's role has: then the text (already
        # folded in Python) is indexed without it, with the same results.
        try:
            with bind.begin_nested():
                op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
            has_unaccent = True
        except sa.exc.DBAPIError:
            has_unaccent = False
    if not has_unaccent:
        has_unaccent = (
            bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")).first() is not None
        )
    op.execute("CREATE TEXT SEARCH CONFIGURATION asasap_french (COPY = french)")
    if has_unaccent:
        op.execute(
            "ALTER TEXT SEARCH CONFIGURATION asasap_french ALTER MAPPING FOR "
            "asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH unaccent, french_stem"
        )
    op.execute(
        "CREATE INDEX ix_proposals_fts ON proposals USING gin (to_tsvector('asasap_french', search_text))"
    )


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("seen_up_to", sa.Integer(), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_searches_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    with op.batch_alter_table("saved_searches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_searches_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_terms", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("title_terms", sa.Text(), server_default="", nullable=False))
    _fill_terms()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE proposals_fts USING fts5(title_terms, search_terms, content='proposals', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')"
        )
        for statement in SQLITE_TRIGGERS.values():
            op.execute(statement)
        op.execute("INSERT INTO proposals_fts(proposals_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        _postgresql_upgrade()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS proposals_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_proposals_fts")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS asasap_french")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("title_terms")
        batch_op.drop_column("search_terms")
    with op.batch_alter_table("saved_searches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_searches_user_id"))
    op.drop_table("saved_searches")
