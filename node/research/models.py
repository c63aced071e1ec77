"""The one table of research figures: the people of this node who opted out of them.

Opting out is a row here (not a column of ``users``) so that the figures' rules stay in one package;
the row goes with the account (``ON DELETE CASCADE``), and a deleted account is out of the figures anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class ResearchOptOut(SQLModel, table=True):
    """A person who asked to be left out of the research figures (they are recomputed without them)."""

    __tablename__ = "research_opt_outs"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
