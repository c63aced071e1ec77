"""Tables of search: a person's saved searches (the full-text indexes themselves are made by the migration,
see :mod:`node.search.backends`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, Text

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class SavedSearch(SQLModel, table=True):
    """A search a person keeps: new proposals that match it notify them. ``params`` is the search's query
    string (the same parameters as the search page and ``/api/v1/search``); ``seen_up_to`` the highest
    proposal row id already checked, so a proposal alerts at most once."""

    __tablename__ = "saved_searches"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    name: str = Field(max_length=120)
    params: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    seen_up_to: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
