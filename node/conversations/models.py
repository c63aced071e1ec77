"""The tables of conversations and moderation.

A conversation is a thread between people (ours or of other servers), identified by a URI that its
``Note``s carry as ``context`` (ours: ``/conversations/<uuid>``; a thread started elsewhere keeps the
other server's ``context``, or the first note's id when it has none). Message texts are sealed at rest
(:mod:`node.core.sealing`, purpose ``message/1``): a database dump does not show what people wrote to
each other.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, Text, UniqueConstraint

from node.activitypub.models import URI
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


def _user_fk(nullable: bool = True) -> Column[int]:
    return Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable, index=True)


class Conversation(SQLModel, table=True):
    """A thread; ``subject_uri`` is the proposal, bid or agreement it is about, if any."""

    __tablename__ = "conversations"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    subject_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True, index=True))
    subject_title: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Participant(SQLModel, table=True):
    """Someone in a conversation: one of our people (``user_id``) or an actor of another server."""

    __tablename__ = "conversation_participants"
    __table_args__ = (UniqueConstraint("conversation_id", "actor_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    actor_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    user_id: int | None = Field(default=None, sa_column=_user_fk())
    last_read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """One message; ``sealed_text`` is its plain text, sealed. ``hidden_at``: hidden by a moderator."""

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    uri: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    author_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    author_user_id: int | None = Field(default=None, sa_column=_user_fk())
    in_reply_to: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    sealed_text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReportState(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"


class Report(SQLModel, table=True):
    """A report of people, proposals or messages: filed here (``reporter_user_id``) or received as a
    ``Flag`` (``activity_id``, ``origin`` the reporting server's domain). ``targets`` is a JSON list of
    URIs; ``forward``: the reporter asked that the report be sent to the reported content's node."""

    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str | None = Field(default=None, sa_column=Column(String(URI), unique=True, nullable=True))
    reporter_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    reporter_user_id: int | None = Field(default=None, sa_column=_user_fk())
    origin: str = Field(default="", max_length=255, index=True)
    targets: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(default="other", max_length=20)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    forward: bool = Field(default=False)
    state: str = Field(default=ReportState.OPEN.value, max_length=12, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Decision(SQLModel, table=True):
    """The log of moderation: who did what, about what, and why."""

    __tablename__ = "moderation_decisions"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("reports.id", ondelete="SET NULL"), nullable=True)
    )
    moderator_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    )
    action: str = Field(max_length=20)
    target_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # the account of another server a warning was sent to, as a direct message of the node actor
    sent_to: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
