"""Tables of the time bank: accounts, transfers and their entries.

Amounts are integers in hundredths of an hour (``150`` is 1.5 h). An account is a person's, the node's
community account, or the clearing account of one peer node. A transfer moves an amount from its debit
account to its credit account; once applied it has exactly two entries (``-amount`` on the debit
account, ``+amount`` on the credit account), written in one transaction and never changed. An account's
``balance`` is the sum of its entries (kept with them in the same transaction, checked by
``asasap timebank verify``); ``held_out``/``held_in`` are the amounts reserved by transfers to other
nodes that wait for the peer's answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)

from node.activitypub.models import URI
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class TimebankAccount(SQLModel, table=True):
    """A person's account, the community account, or the clearing account of a peer node."""

    __tablename__ = "timebank_accounts"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(
        sa_column=Column(String(300), unique=True, nullable=False)
    )  # person:ID | community | clearing:DOMAIN
    kind: str = Field(max_length=12, index=True)  # person | community | clearing
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, unique=True),
    )
    peer: str | None = Field(default=None, sa_column=Column(String(255), nullable=True, unique=True))
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    held_out: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    held_in: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    cap: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )  # clearing: set by admins
    agreed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)  # clearing: last agreed point
    agreed_balance: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    agreed_statement: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # clearing: its ClearingDigest rows cover every settled transfer (false until they are built, once)
    digests_ready: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))


OPEN = "state <> 'settled'"  # the transfers a statement lists in full (few)


class Transfer(SQLModel, table=True):
    """An amount moved from one account to another, with why, who and, between nodes, the exchange.

    ``uri`` is the transfer's id, the same on both nodes of a transfer between nodes (minted by the
    payer's node). ``purpose`` makes automatic transfers happen once (``payment:<agreement>``,
    ``start:<user id>``...). ``direction`` is ``out`` when this node is the payer's, ``in`` when it is
    the payee's, empty for a transfer inside the node.
    """

    __tablename__ = "timebank_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive_amount"),
        # Partial indexes: a transfer inside the node (the hot path) has none of these columns, and
        # writes no entry in them (bench/timebank.py).
        Index(
            "ix_timebank_transfers_exchange_due",
            "exchange_state",
            "next_attempt_at",
            sqlite_where=text("exchange_state IS NOT NULL"),
            postgresql_where=text("exchange_state IS NOT NULL"),
        ),
        Index(
            "ix_timebank_transfers_peer_bucket",
            "peer",
            "bucket",
            sqlite_where=text("peer IS NOT NULL"),
            postgresql_where=text("peer IS NOT NULL"),
        ),
        Index(
            "ix_timebank_transfers_open",
            "peer",
            "created_at",
            sqlite_where=text(OPEN),
            postgresql_where=text(OPEN),
        ),
        # Unique where set (a transfer is made once for a purpose, reversed at most once): a transfer
        # without them writes no entry there (migration 0035).
        *(
            Index(
                f"uq_timebank_transfers_{column}",
                column,
                unique=True,
                sqlite_where=text(f"{column} IS NOT NULL"),
                postgresql_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("purpose", "reverses_id")
        ),
        Index(
            "ix_timebank_transfers_agreement",
            "agreement_ap_id",
            sqlite_where=text("agreement_ap_id IS NOT NULL"),
            postgresql_where=text("agreement_ap_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    kind: str = Field(max_length=20)
    state: str = Field(default="waiting", max_length=12)  # not settled: ix_timebank_transfers_open
    debit_account_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("timebank_accounts.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    credit_account_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("timebank_accounts.id", ondelete="RESTRICT"), nullable=False, index=True
        )
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    payer_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    payee_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    peer: str | None = Field(default=None, max_length=255)
    bucket: str | None = Field(default=None, max_length=2)  # between nodes: see node.timebank.digests
    direction: str = Field(default="", max_length=3)
    purpose: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))  # unique: above
    agreement_ap_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    reverses_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("timebank_transfers.id", ondelete="RESTRICT"), nullable=True
        ),  # unique: above
    )
    memo: str = Field(default="", max_length=500)
    created_by_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    )
    waiting_reason: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The exchange with the peer, on the payer's node (see node.timebank.exchange).
    exchange_state: str | None = Field(default=None, max_length=12)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    offer_activity_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    refusal: str = Field(default="", max_length=40)
    refusal_text: str = Field(default="", max_length=500)


class Entry(SQLModel, table=True):
    """One of the two entries of an applied transfer: ``amount`` is negative on the debit account."""

    __tablename__ = "timebank_entries"
    # No index but the key: entries are only read all together (ledger.verify), a history reads the
    # transfers; each index would take one more page in every transfer's commit (bench/timebank.py).

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("timebank_transfers.id", ondelete="RESTRICT"), nullable=False)
    )
    account_id: int = Field(
        sa_column=Column(Integer, ForeignKey("timebank_accounts.id", ondelete="RESTRICT"), nullable=False)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ClearingDigest(SQLModel, table=True):
    """The digest of one group of the settled transfers with a peer node, kept up to date in the
    transaction that settles each of them (see :mod:`node.timebank.digests`)."""

    __tablename__ = "timebank_clearing_digests"

    peer: str = Field(primary_key=True, max_length=255)
    bucket: str = Field(primary_key=True, max_length=2)
    transfers: int = Field(default=0)
    total: str = Field(default="0" * 32, max_length=32)  # hex: the sum of the transfers' hashes mod 2**128
