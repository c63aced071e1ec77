"""time bank: digests of the clearing accounts kept up to date, fewer indexes on a transfer inside the node

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-07 12:10:00.000000

Each transfer with a peer node gets its group (``bucket``: the first byte of the SHA-256 of its id, in
hex); ``timebank_clearing_digests`` holds the digest of each group, built once by the time bank's job
for the clearing accounts that existed before (``digests_ready`` false), then kept up to date.
The indexes a transfer inside the node never uses (kind, agreement, peer, exchange) are dropped or
made partial.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timebank_clearing_digests",
        sa.Column("peer", sa.String(length=255), nullable=False),
        sa.Column("bucket", sa.String(length=2), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("total", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("peer", "bucket"),
    )
    # Plain ALTER TABLE (a batch would copy the tables, which other tables' rows refer to).
    op.add_column(
        "timebank_accounts",
        sa.Column("digests_ready", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("timebank_transfers", sa.Column("bucket", sa.String(length=2), nullable=True))
    for name in (
        "ix_timebank_transfers_kind",
        "ix_timebank_transfers_peer",
        "ix_timebank_transfers_agreement_ap_id",
        "ix_timebank_transfers_exchange_due",
    ):
        op.drop_index(name, table_name="timebank_transfers")
    partial = {
        "ix_timebank_transfers_exchange_due": (["exchange_state", "next_attempt_at"], "exchange_state"),
        "ix_timebank_transfers_peer_bucket": (["peer", "bucket"], "peer"),
        "ix_timebank_transfers_agreement": (["agreement_ap_id"], "agreement_ap_id"),
    }
    for name, (columns, present) in partial.items():
        where = sa.text(f"{present} IS NOT NULL")
        op.create_index(
            name, "timebank_transfers", columns, unique=False, sqlite_where=where, postgresql_where=where
        )
    not_settled = sa.text("state <> 'settled'")  # the transfers a statement lists in full
    op.create_index(
        "ix_timebank_transfers_open",
        "timebank_transfers",
        ["peer", "created_at"],
        unique=False,
        sqlite_where=not_settled,
        postgresql_where=not_settled,
    )
    transfers = sa.table(
        "timebank_transfers",
        sa.column("id", sa.Integer),
        sa.column("uri", sa.String),
        sa.column("peer", sa.String),
        sa.column("bucket", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(transfers.c.id, transfers.c.uri).where(transfers.c.peer.is_not(None)))
    changes = [{"row": i, "b": hashlib.sha256(uri.encode()).hexdigest()[:2]} for i, uri in rows]
    if changes:
        connection.execute(
            transfers.update().where(transfers.c.id == sa.bindparam("row")).values(bucket=sa.bindparam("b")),
            changes,
        )


def downgrade() -> None:
    for name in (
        "ix_timebank_transfers_open",
        "ix_timebank_transfers_agreement",
        "ix_timebank_transfers_peer_bucket",
        "ix_timebank_transfers_exchange_due",
    ):
        op.drop_index(name, table_name="timebank_transfers")
    for name, columns in (
        ("ix_timebank_transfers_kind", ["kind"]),
        ("ix_timebank_transfers_peer", ["peer"]),
        ("ix_timebank_transfers_agreement_ap_id", ["agreement_ap_id"]),
        ("ix_timebank_transfers_exchange_due", ["exchange_state", "next_attempt_at"]),
    ):
        op.create_index(name, "timebank_transfers", columns, unique=False)
    op.drop_column("timebank_transfers", "bucket")
    op.drop_column("timebank_accounts", "digests_ready")
    op.drop_table("timebank_clearing_digests")
