"""Tables of matching: a person's matching settings (their radius, whether new matches notify them), the
notices already made (one per proposal and person, which also counts a person's notices of the day), and
how far the periodic pass has read the proposals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class MatchSettings(SQLModel, table=True):
    """A person's matching settings: ``radius_km``, how far they go to provide a service (their "rayon
    d'intervention"; None: the node's default), and ``alerts``, whether new matches notify them (opt-in)."""

    __tablename__ = "match_settings"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    radius_km: int | None = Field(default=None)
    alerts: bool = Field(default=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MatchNotice(SQLModel, table=True):
    """A person was told that a proposal matches them: never twice for the same pair."""

    __tablename__ = "match_notices"
    __table_args__ = (
        UniqueConstraint("proposal_id", "user_id"),
        Index("ix_match_notices_user_id_created_at", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    score: float = Field(default=0.0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MatchCursor(SQLModel, table=True):
    """The highest proposal row id a matching pass (``demands`` or ``offers``) has read."""

    __tablename__ = "match_cursors"

    name: str = Field(primary_key=True, max_length=16)
    seen_up_to: int = Field(default=0)
