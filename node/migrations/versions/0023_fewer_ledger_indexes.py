"""time bank: two indexes fewer on the path of a transfer inside the node

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 13:15:00.000000

``ix_timebank_transfers_state`` (every transfer, settled ones included) gives way to the partial index of
the transfers not settled (``ix_timebank_transfers_open``), which the queries by state now name; and
``ix_timebank_entries_transfer_id`` is dropped (entries are read by account, or all of them by the
ledger's check). A transfer inside the node writes two index pages fewer in its commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_timebank_transfers_state", table_name="timebank_transfers")
    op.drop_index("ix_timebank_entries_transfer_id", table_name="timebank_entries")


def downgrade() -> None:
    op.create_index("ix_timebank_entries_transfer_id", "timebank_entries", ["transfer_id"], unique=False)
    op.create_index("ix_timebank_transfers_state", "timebank_transfers", ["state"], unique=False)
