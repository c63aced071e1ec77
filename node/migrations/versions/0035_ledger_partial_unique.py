"""time bank: the unique ``purpose`` and ``reverses_id`` of transfers as partial unique indexes

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 18:10:00.000000

Most transfers have neither a ``purpose`` (the key that makes an automatic transfer happen once) nor a
``reverses_id`` (the transfer a correction reverses), yet their unique constraints took an entry for
each ``NULL``: two more pages in every transfer's commit (``bench/timebank.py``). They become unique
indexes over the rows that have one (``WHERE ... IS NOT NULL``): the same guarantee, since ``NULL``\\s
never conflicted. On PostgreSQL the constraints are dropped and the indexes created. SQLite cannot drop
a constraint of ``CREATE TABLE``: the table is rebuilt the documented way (a new table from the same
definition without the two constraints, the rows copied, the old table dropped, the new one renamed,
its indexes made again), which :func:`node.core.db.migrate` runs with foreign keys off and checks with
``PRAGMA foreign_key_check`` before it commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "timebank_transfers"
COLUMNS = ("purpose", "reverses_id")


def _name(column: str) -> str:
    return f"uq_{TABLE}_{column}"


def _rebuild_sqlite(definition: str) -> None:
    """Rebuild the table of SQLite from ``definition`` (its ``CREATE TABLE`` with the new constraints),
    keeping its rows and its indexes."""
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("rebuilding timebank_transfers needs foreign keys off: run `asasap migrate`")
    indexes = [
        sql
        for (sql,) in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (TABLE,),
        )
    ]
    new = f"_new_{TABLE}"
    created = re.sub(rf"^CREATE TABLE \"?{TABLE}\"? \(", f"CREATE TABLE {new} (", definition)
    assert created != definition, "unexpected definition of timebank_transfers"
    op.execute(created)
    op.execute(f"INSERT INTO {new} SELECT * FROM {TABLE}")
    op.execute(f"DROP TABLE {TABLE}")
    op.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
    for sql in indexes:
        op.execute(sql)


def _definition() -> str:
    found = op.get_bind().exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    )
    return str(found.scalar_one())


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        definition = _definition()
        for column in COLUMNS:
            constraint = rf",\s*CONSTRAINT {_name(column)} UNIQUE \({column}\)"
            definition, count = re.subn(constraint, "", definition)
            assert count == 1, f"no unique constraint on {column}"
        _rebuild_sqlite(definition)
    else:
        for column in COLUMNS:
            op.drop_constraint(_name(column), TABLE, type_="unique")
    for column in COLUMNS:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            _name(column), TABLE, [column], unique=True, sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(_name(column), table_name=TABLE)
    if op.get_bind().dialect.name == "sqlite":
        definition = _definition()
        constraints = "".join(f", \n\tCONSTRAINT {_name(c)} UNIQUE ({c})" for c in COLUMNS)
        definition, count = re.subn(r"\n\)$", constraints + "\n)", definition)
        assert count == 1, "unexpected definition of timebank_transfers"
        _rebuild_sqlite(definition)
    else:
        for column in COLUMNS:
            op.create_unique_constraint(_name(column), TABLE, [column])
