"""Tables of the marketplace: proposals (offers and demands), bids, agreements with their timeline and
private contact details, evaluations and what they add up to per person, and notifications.

Local and remote objects share the tables: ``ap_id`` is the ActivityPub id (ours or another node's),
``origin`` the domain that owns the object ('' for this node). Money and hours are exact decimals.
Contact details are encrypted at rest (:mod:`node.market.secrets`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text

from node.activitypub.models import URI
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


def _user_fk(ondelete: str = "CASCADE") -> Column[int]:
    return Column(Integer, ForeignKey("users.id", ondelete=ondelete), nullable=True, index=True)


class Proposal(SQLModel, table=True):
    """An offer or a demand (FEP-0837 ``Proposal``), published here or received from another node."""

    __tablename__ = "proposals"

    id: int | None = Field(default=None, primary_key=True)
    ap_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    origin: str = Field(default="", max_length=255, index=True)  # '' for this node
    author_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    local_author_id: int | None = Field(default=None, sa_column=_user_fk())
    purpose: str = Field(max_length=8, index=True)  # offer | request
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # sanitised HTML
    category: str | None = Field(default=None, max_length=64, index=True)
    commune_insee: str | None = Field(default=None, max_length=5, index=True)
    commune_name: str = Field(default="", max_length=120)
    postal_code: str = Field(default="", max_length=5)
    departement: str = Field(default="", max_length=3, index=True)
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    schedule: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # schedule.to_json
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)  # first occurrence
    # parts of the days of the week the schedule meets (availability.schedule_mask); NULL: none, to be agreed
    slots: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    quantity_hours: Decimal | None = Field(default=None, sa_column=Column(Numeric(8, 2), nullable=True))
    price_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2), nullable=True))
    price_currency: str | None = Field(default=None, max_length=4)  # EUR | HOUR
    price_basis: str | None = Field(default=None, max_length=8)  # per_hour | total
    bidding_deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    state: str = Field(default="open", max_length=16, index=True)
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # French stems of search_text and of the title, indexed by SQLite FTS5 (node.search)
    search_terms: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    title_terms: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    photos: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # proposals.photos JSON
    # when the photos of a remote proposal are to be copied (node.market.proposals.remote_photos)
    photos_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    raw: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True)
    )  # as received, for remote ones
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, index=True
    )  # matching's refresh
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PendingPublication(SQLModel, table=True):
    """A change of a local proposal (``Create``, ``Update`` or ``Delete``) waiting to be published until
    the software of its audience's servers is known (:mod:`node.market.proposals.publishing`)."""

    __tablename__ = "pending_publications"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Bid(SQLModel, table=True):
    """An answer to a proposal (``Offer(Agreement)``), sealed: seen by its author and the proposal's."""

    __tablename__ = "bids"
    __table_args__ = (
        # One active bid per person per proposal.
        Index(
            "uq_bids_active_per_bidder",
            "proposal_id",
            "bidder_uri",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ap_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))  # the Offer's id
    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    bidder_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    local_bidder_id: int | None = Field(default=None, sa_column=_user_fk())
    origin: str = Field(default="", max_length=255)
    price_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2), nullable=True))
    price_currency: str | None = Field(default=None, max_length=4)
    price_basis: str | None = Field(default=None, max_length=8)
    quantity_hours: Decimal | None = Field(default=None, sa_column=Column(Numeric(8, 2), nullable=True))
    schedule: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    state: str = Field(default="active", max_length=16, index=True)
    reject_reason: str = Field(default="", max_length=500)
    raw: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Agreement(SQLModel, table=True):
    """What two parties agreed on; held by the proposal author's node (its origin), mirrored by the other."""

    __tablename__ = "agreements"

    id: int | None = Field(default=None, primary_key=True)
    ap_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    origin: str = Field(default="", max_length=255)  # '' when this node holds it
    proposal_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("proposals.id", ondelete="SET NULL"), nullable=True),
    )
    proposal_ap_id: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    bid_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("bids.id", ondelete="SET NULL"), nullable=True)
    )
    offer_ap_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    provider_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    requester_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    local_provider_id: int | None = Field(default=None, sa_column=_user_fk("SET NULL"))
    local_requester_id: int | None = Field(default=None, sa_column=_user_fk("SET NULL"))
    category: str | None = Field(default=None, max_length=64)
    price_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2), nullable=True))
    price_currency: str | None = Field(default=None, max_length=4)
    price_basis: str | None = Field(default=None, max_length=8)
    quantity_hours: Decimal | None = Field(default=None, sa_column=Column(Numeric(8, 2), nullable=True))
    schedule: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: str = Field(default="accepted", max_length=20, index=True)
    provider_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    requester_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_by_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    late_cancellation: bool = Field(default=False)
    disputed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disputed_by_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    dispute_reason: str = Field(default="", max_length=1000)
    receipt_ap_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    # When the provider is a group: the member who carries the service out (set by the group).
    performer_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True, index=True))
    raw: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgreementEvent(SQLModel, table=True):
    """One step of an agreement's timeline (accepted, confirmed, cancelled, disputed, completed...)."""

    __tablename__ = "agreement_events"

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=24)
    actor_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    activity_id: str | None = Field(default=None, sa_column=Column(String(URI), unique=True, nullable=True))
    note: str = Field(default="", max_length=1000)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgreementContact(SQLModel, table=True):
    """Contact details one party shares with the other inside an agreement (encrypted at rest)."""

    __tablename__ = "agreement_contacts"
    __table_args__ = (UniqueConstraint("agreement_id", "party_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False)
    )
    party_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    sealed: str = Field(sa_column=Column(Text, nullable=False))  # address and phone, encrypted
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Evaluation(SQLModel, table=True):
    """One party's evaluation of the other after a completed agreement (double-blind until revealed)."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("agreement_ap_id", "evaluator_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    ap_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    origin: str = Field(default="", max_length=255)
    agreement_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("agreements.id", ondelete="SET NULL"), nullable=True),
    )
    agreement_ap_id: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    evaluator_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    evaluated_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    evaluated_role: str = Field(max_length=12)  # provider | requester
    # The member of a provider group who carried the service out: the evaluation counts for them too.
    performer_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True, index=True))
    overall: int = Field()
    criteria: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    comment: str = Field(default="", max_length=1000)
    state: str = Field(default="submitted", max_length=16, index=True)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Standing(SQLModel, table=True):
    """What the published evaluations of one person add up to, kept beside them so that a search filters
    and orders by reputation through an index (:mod:`node.market.evaluations.standings`, which restates a
    person's row in the transaction where one of their evaluations is published or hidden): how many
    scores count, their sum, and the mean rounded half up to two decimals, in hundredths."""

    __tablename__ = "standings"

    uri: str = Field(sa_column=Column(String(URI), primary_key=True))
    count: int = Field()
    total: int = Field()
    hundredths: int = Field(index=True)


class Notification(SQLModel, table=True):
    """Something a person should know about: a new bid, an acceptance, a reply from the fediverse..."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=32)
    object_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    actor_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
