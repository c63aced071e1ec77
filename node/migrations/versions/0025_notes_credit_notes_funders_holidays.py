"""telemanagement: visit notes (sealed), the log of every opening of sealed private data, credit notes,
funders' representatives, series that skip public holidays

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import node.core.timeutil

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tm_visit_notes",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_tm_visit_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["tm_visits.id"],
            name=op.f("fk_tm_visit_notes_visit_id_tm_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_tm_visit_notes")),
    )
    op.create_table(
        "tm_sealed_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("record", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("fields", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_sealed_access")),
    )
    with op.batch_alter_table("tm_sealed_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tm_sealed_access_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tm_sealed_access_user_id"), ["user_id"], unique=False)
    op.create_table(
        "tm_credit_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("content_sealed", sa.Text(), nullable=False),
        sa.Column("pdf_sealed", sa.Text(), nullable=False),
        sa.Column("pdf_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("total_cents > 0", name=op.f("ck_tm_credit_notes_total_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["tm_invoices.id"],
            name=op.f("fk_tm_credit_notes_invoice_id_tm_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["users.id"],
            name=op.f("fk_tm_credit_notes_issued_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_credit_notes")),
        sa.UniqueConstraint("issuer", "year", "sequence", name=op.f("uq_tm_credit_notes_issuer")),
        sa.UniqueConstraint("number", name=op.f("uq_tm_credit_notes_number")),
    )
    with op.batch_alter_table("tm_credit_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tm_credit_notes_invoice_id"), ["invoice_id"], unique=False)
    op.create_table(
        "tm_funder_representatives",
        sa.Column("funder_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["funder_id"],
            ["tm_funders.id"],
            name=op.f("fk_tm_funder_representatives_funder_id_tm_funders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_tm_funder_representatives_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("funder_id", "user_id", name=op.f("pk_tm_funder_representatives")),
    )
    with op.batch_alter_table("tm_funder_representatives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tm_funder_representatives_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("tm_visit_series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("skip_holidays", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("tm_visit_series", schema=None) as batch_op:
        batch_op.drop_column("skip_holidays")
    with op.batch_alter_table("tm_funder_representatives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_funder_representatives_user_id"))
    op.drop_table("tm_funder_representatives")
    with op.batch_alter_table("tm_credit_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_credit_notes_invoice_id"))
    op.drop_table("tm_credit_notes")
    with op.batch_alter_table("tm_sealed_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_sealed_access_user_id"))
        batch_op.drop_index(batch_op.f("ix_tm_sealed_access_at"))
    op.drop_table("tm_sealed_access")
    op.drop_table("tm_visit_notes")
