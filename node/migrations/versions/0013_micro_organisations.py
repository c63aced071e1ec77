"""micro-organisations: groups, members, colleges, assignments, notices; performers of agreements

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:42:35.713655
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import node.core.timeutil

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("territory", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("departement", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("legal_shape", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("join_policy", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("sharing_rule", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("contribution_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("contribution_brackets", sa.Text(), nullable=False),
        sa.Column("members_see", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("rules_text", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_groups_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_groups_departement"), ["departement"], unique=False)
        batch_op.create_index(batch_op.f("ix_groups_legal_shape"), ["legal_shape"], unique=False)
        batch_op.create_index(batch_op.f("ix_groups_state"), ["state"], unique=False)

    op.create_table(
        "group_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("agreement_ap_id", sa.String(length=2048), nullable=False),
        sa.Column("commitment_ap_id", sa.String(length=2048), nullable=False),
        sa.Column("member_uri", sa.String(length=2048), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("assigned_by_uri", sa.String(length=2048), nullable=False),
        sa.Column("replaced_uri", sa.String(length=2048), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_assignments_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_assignments")),
        sa.UniqueConstraint("agreement_ap_id", name=op.f("uq_group_assignments_agreement_ap_id")),
        sa.UniqueConstraint("commitment_ap_id", name=op.f("uq_group_assignments_commitment_ap_id")),
    )
    with op.batch_alter_table("group_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_assignments_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_assignments_member_uri"), ["member_uri"], unique=False)

    op.create_table(
        "group_colleges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("weight", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_colleges_group_id_groups"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_colleges")),
        sa.UniqueConstraint("group_id", "name", name=op.f("uq_group_colleges_group_id")),
    )
    with op.batch_alter_table("group_colleges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_colleges_group_id"), ["group_id"], unique=False)

    op.create_table(
        "group_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_uri", sa.String(length=2048), nullable=False),
        sa.Column("ap_id", sa.String(length=2048), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("author_uri", sa.String(length=2048), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_notices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_notices")),
        sa.UniqueConstraint("ap_id", "user_id", name=op.f("uq_group_notices_ap_id")),
    )
    with op.batch_alter_table("group_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_notices_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_notices_group_uri"), ["group_uri"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_notices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "group_remote_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_uri", sa.String(length=2048), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("join_activity_id", sa.String(length=2048), nullable=True),
        sa.Column("invite_activity_id", sa.String(length=2048), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_remote_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_remote_memberships")),
        sa.UniqueConstraint("group_uri", "user_id", name=op.f("uq_group_remote_memberships_group_uri")),
    )
    with op.batch_alter_table("group_remote_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_remote_memberships_group_uri"), ["group_uri"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_group_remote_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("member_uri", sa.String(length=2048), nullable=False),
        sa.Column("local_user_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("college_id", sa.Integer(), nullable=True),
        sa.Column("capital_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("associate", sa.Boolean(), nullable=False),
        sa.Column("bureau_role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("offers", sa.Text(), nullable=False),
        sa.Column("contract", sa.Text(), nullable=False),
        sa.Column("contract_signed_on", sa.Date(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("join_activity_id", sa.String(length=2048), nullable=True),
        sa.Column("invite_activity_id", sa.String(length=2048), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("joined_at", node.core.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["college_id"],
            ["group_colleges.id"],
            name=op.f("fk_group_members_college_id_group_colleges"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["local_user_id"],
            ["users.id"],
            name=op.f("fk_group_members_local_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("group_id", "member_uri", name=op.f("uq_group_members_group_id")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_members_local_user_id"), ["local_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_members_member_uri"), ["member_uri"], unique=False)
        batch_op.create_index(batch_op.f("ix_group_members_state"), ["state"], unique=False)

    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("performer_uri", sa.String(length=2048), nullable=True))
        batch_op.create_index(batch_op.f("ix_agreements_performer_uri"), ["performer_uri"], unique=False)

    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("performer_uri", sa.String(length=2048), nullable=True))
        batch_op.create_index(batch_op.f("ix_evaluations_performer_uri"), ["performer_uri"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_performer_uri"))
        batch_op.drop_column("performer_uri")

    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_performer_uri"))
        batch_op.drop_column("performer_uri")

    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_state"))
        batch_op.drop_index(batch_op.f("ix_group_members_member_uri"))
        batch_op.drop_index(batch_op.f("ix_group_members_local_user_id"))
        batch_op.drop_index(batch_op.f("ix_group_members_group_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("group_remote_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_remote_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_group_remote_memberships_group_uri"))

    op.drop_table("group_remote_memberships")
    with op.batch_alter_table("group_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_notices_user_id"))
        batch_op.drop_index(batch_op.f("ix_group_notices_group_uri"))
        batch_op.drop_index(batch_op.f("ix_group_notices_created_at"))

    op.drop_table("group_notices")
    with op.batch_alter_table("group_colleges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_colleges_group_id"))

    op.drop_table("group_colleges")
    with op.batch_alter_table("group_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_assignments_member_uri"))
        batch_op.drop_index(batch_op.f("ix_group_assignments_group_id"))

    op.drop_table("group_assignments")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_groups_state"))
        batch_op.drop_index(batch_op.f("ix_groups_legal_shape"))
        batch_op.drop_index(batch_op.f("ix_groups_departement"))
        batch_op.drop_index(batch_op.f("ix_groups_created_at"))

    op.drop_table("groups")
