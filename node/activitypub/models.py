"""Tables of the federation layer: remote actors and peers, follows, the durable outbox and inbox,
deliveries, domain blocks and relays.

Remote data is cached, never trusted beyond what was verified: an actor row is what its origin served,
an inbox row is an activity whose signature was verified before it was stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, Text, UniqueConstraint

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow

URI = 2048  # longest URI we store


class RemoteActor(SQLModel, table=True):
    """An actor of another server, as last fetched from its origin."""

    __tablename__ = "remote_actors"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    type: str = Field(default="Person", max_length=40)
    domain: str = Field(max_length=255, index=True)
    inbox: str = Field(sa_column=Column(String(URI), nullable=False))
    shared_inbox: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    outbox: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    followers: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    preferred_username: str = Field(default="", max_length=255)
    name: str = Field(default="", max_length=500)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    url: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    icon_url: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    avatar: str | None = Field(default=None, max_length=32)  # content hash of our copy of ``icon_url``
    key_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True, index=True))
    public_key_pem: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    manually_approves: bool = Field(default=False)
    raw: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    gone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def handle(self) -> str:
        return f"{self.preferred_username}@{self.domain}" if self.preferred_username else self.uri


class PeerState(StrEnum):
    OK = "ok"
    FAILING = "failing"


class Peer(SQLModel, table=True):
    """A server we have exchanged with, keyed by domain (host and non-default port)."""

    __tablename__ = "peers"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    software: str = Field(default="", max_length=100)
    version: str = Field(default="", max_length=100)
    nodeinfo_fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: str = Field(default=PeerState.OK.value, max_length=16)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failure_count: int = Field(default=0)


class DomainBlock(SQLModel, table=True):
    """A domain whose requests are refused, whose deliveries are dropped and whose content is hidden."""

    __tablename__ = "domain_blocks"

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    reason: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Follow(SQLModel, table=True):
    """``follower`` follows ``followee``; either side may be local (a person or the node) or remote."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("follower_uri", "followee_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    follower_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    followee_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    activity_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    state: str = Field(default=FollowState.PENDING.value, max_length=16, index=True)
    local_follower_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    )
    local_followee_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxActivity(SQLModel, table=True):
    """An activity a local actor published; the source of its deliveries and of its outbox collection."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    actor_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    type: str = Field(max_length=40)
    object_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True, index=True))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    public: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a worker until lease_until
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent refusal, or gave up after the retry period
    GONE = "gone"  # the recipient answered 410
    CANCELLED = "cancelled"  # the domain was blocked


class Delivery(SQLModel, table=True):
    """One POST of an outbox activity to one inbox (shared inboxes are used once per activity)."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("outbox_id", "target"),)

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(
        sa_column=Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False)
    )
    # The inbox URL when known at publication, else the recipient actor's URI, resolved by the worker.
    target: str = Field(sa_column=Column(String(URI), nullable=False))
    inbox_url: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    domain: str = Field(max_length=255, index=True)
    state: str = Field(default=DeliveryState.PENDING.value, max_length=16, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboxState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


class InboxActivity(SQLModel, table=True):
    """An incoming activity, stored once verified and before it is processed (deduplicated by id)."""

    __tablename__ = "inbox"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    actor_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    type: str = Field(max_length=40)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str = Field(sa_column=Column(String(URI), nullable=False))
    recipient_user_id: int | None = Field(default=None)  # the personal inbox it came through, if any
    state: str = Field(default=InboxState.PENDING.value, max_length=16, index=True)
    kind: str | None = Field(default=None, max_length=40)  # what the dispatcher read it as, once processed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str = Field(default="", max_length=1000)


class RelayState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Relay(SQLModel, table=True):
    """A Mastodon/LitePub-style relay the node actor subscribes to."""

    __tablename__ = "relays"

    id: int | None = Field(default=None, primary_key=True)
    inbox_url: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    actor_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    follow_activity_id: str = Field(sa_column=Column(String(URI), nullable=False))
    state: str = Field(default=RelayState.PENDING.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LimitedAccount(SQLModel, table=True):
    """An account a moderator limited (issue 14): its proposals are left out of listings and search, and
    its messages reach only the people of this node who follow it."""

    __tablename__ = "limited_accounts"

    id: int | None = Field(default=None, primary_key=True)
    actor_uri: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    reason: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BlockedAccount(SQLModel, table=True):
    """An account of another server a moderator blocked (issue 14): what it sends is ignored, the follows
    that link us to it are dropped, and what we listed of it is withdrawn here."""

    __tablename__ = "blocked_accounts"

    id: int | None = Field(default=None, primary_key=True)
    actor_uri: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    reason: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
