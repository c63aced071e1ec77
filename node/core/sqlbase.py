"""The base for every table: SQLModel with a constraint naming convention.

Named constraints let Alembic alter tables later, SQLite's copy-and-move included. Table modules import
``SQLModel`` and ``Field`` from here so that the convention is in place before any table is defined.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for statements that bypass the ORM (batch updates, upserts)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


__all__ = ["Field", "SQLModel", "table_of"]
