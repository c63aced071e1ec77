"""telemanagement: plans made from agreements, providers' applications for visits waiting for a
replacement

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 15:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import node.core.timeutil

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tm_agreement_plans",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_tm_agreement_plans_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["tm_care_plans.id"],
            name=op.f("fk_tm_agreement_plans_plan_id_tm_care_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_tm_agreement_plans")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_tm_agreement_plans_plan_id")),
    )
    op.create_table(
        "tm_replacement_applications",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_tm_replacement_applications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["tm_visits.id"],
            name=op.f("fk_tm_replacement_applications_visit_id_tm_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visit_id", "user_id", name=op.f("pk_tm_replacement_applications")),
    )
    with op.batch_alter_table("tm_replacement_applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tm_replacement_applications_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tm_replacement_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_replacement_applications_user_id"))
    op.drop_table("tm_replacement_applications")
    op.drop_table("tm_agreement_plans")
