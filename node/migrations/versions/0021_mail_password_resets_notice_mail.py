"""e-mail: the outgoing queue, password reset links, notification e-mail choices and cursor; accounts
limited by moderators; our people's moves to other servers; Web Push subscriptions; likes
and boosts of our proposals

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import node.core.timeutil

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.Column("lease_until", node.core.timeutil.UTCDateTime(), nullable=True),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.Column("sent_at", node.core.timeutil.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_outgoing_mails_state"), "outgoing_mails", ["state"], unique=False)
    op.create_index(
        op.f("ix_outgoing_mails_next_attempt_at"), "outgoing_mails", ["next_attempt_at"], unique=False
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.Column("expires_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.Column("used_at", node.core.timeutil.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"], unique=False)
    op.create_table(
        "mail_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("messages", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.String(length=16), nullable=False),
        sa.Column("agreements", sa.String(length=16), nullable=False),
        sa.Column("digest_sent_at", node.core.timeutil.UTCDateTime(), nullable=True),
        sa.Column("updated_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "mail_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "limited_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_uri", sa.String(length=2048), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("actor_uri"),
    )
    op.create_table(
        "account_moves",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("target_uri", sa.String(length=2048), nullable=False),
        sa.Column("moved_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=100), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    op.create_index(op.f("ix_push_subscriptions_user_id"), "push_subscriptions", ["user_id"], unique=False)
    op.create_table(
        "proposal_reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("actor_uri", sa.String(length=2048), nullable=False),
        sa.Column("activity_id", sa.String(length=2048), nullable=False),
        sa.Column("created_at", node.core.timeutil.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "kind", "actor_uri"),
    )
    op.create_index(
        op.f("ix_proposal_reactions_proposal_id"), "proposal_reactions", ["proposal_id"], unique=False
    )
    op.create_index(
        op.f("ix_proposal_reactions_activity_id"), "proposal_reactions", ["activity_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_proposal_reactions_activity_id"), table_name="proposal_reactions")
    op.drop_index(op.f("ix_proposal_reactions_proposal_id"), table_name="proposal_reactions")
    op.drop_table("proposal_reactions")
    op.drop_index(op.f("ix_push_subscriptions_user_id"), table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_table("account_moves")
    op.drop_table("limited_accounts")
    op.drop_table("mail_cursors")
    op.drop_table("mail_preferences")
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
    op.drop_index(op.f("ix_outgoing_mails_next_attempt_at"), table_name="outgoing_mails")
    op.drop_index(op.f("ix_outgoing_mails_state"), table_name="outgoing_mails")
    op.drop_table("outgoing_mails")
