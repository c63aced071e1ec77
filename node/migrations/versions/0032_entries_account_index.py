"""time bank: one index fewer on the path of a transfer inside the node

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 16:20:00.000000

``ix_timebank_entries_account_id_id`` is dropped: no query reads entries by account (a person's history
reads the transfers by their debit and credit accounts, and ``asasap timebank verify`` sums all entries
by account, which needs no index). Each transfer wrote two entries into it, one more page in its commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_timebank_entries_account_id_id", table_name="timebank_entries")


def downgrade() -> None:
    op.create_index("ix_timebank_entries_account_id_id", "timebank_entries", ["account_id", "id"])
