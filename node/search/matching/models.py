"""Tables of matching: a person's matching settings (their radius, whether new matches notify them), the
notices already made (one per proposal and person, which also counts a person's notices of the day),
how far the periodic pass has read the proposals, and the providers' profiles as ranking reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    false,
)

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow

NEAR_INDEX = (
    "category",
    "lat",
    "lon_min",
    "lon_max",
    "lat_min",
    "lat_max",
    "alerts",
    "user_id",
    "version",
    "lon",
    "radius_km",
)
"""The columns of the index the pre-filter reads (:class:`MatchProfileCategory`): the range on the
first two, the box and the opt-in checked on the next, the rest what it gives."""


class MatchSettings(SQLModel, table=True):
    """A person's matching settings: ``radius_km``, how far they go to provide a service (their "rayon
    d'intervention"; None: the node's default), and ``alerts``, whether new matches notify them (opt-in)."""

    __tablename__ = "match_settings"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    radius_km: int | None = Field(default=None)
    alerts: bool = Field(default=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


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


class MatchProfile(SQLModel, table=True):
    """What ranking needs of one of this node's active providers, kept between passes so that a new demand
    is matched with one query (:mod:`node.search.matching.profiles`, which refreshes the rows of the
    people whose profile, offers, settings, agreements or evaluations changed). ``categories`` and
    ``terms`` are space-separated (with a space at both ends, so ``LIKE '% slug %'`` finds a category);
    the box is the radius around the commune's centre; ``slots`` is a bit mask of the parts of the
    days of the week (:func:`~node.market.availability.slot`: bit 0 is Monday morning);
    ``alerts`` whether the person opted in to match alerts; ``version`` a digest of what scoring reads
    of the row besides its place (:mod:`node.search.matching.ranking` keeps each version in memory)."""

    __tablename__ = "match_profiles"
    __table_args__ = (
        Index("ix_match_profiles_lat", "lat"),
        Index("ix_match_profiles_radius_km", "radius_km"),
    )

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    provider_status: str = Field(default="none", max_length=32)
    categories: str = Field(default=" ", sa_column=Column(Text, nullable=False, default=" "))
    terms: str = Field(default=" ", sa_column=Column(Text, nullable=False, default=" "))
    lat: float | None = Field(default=None)
    lon: float | None = Field(default=None)
    radius_km: float = Field(default=10.0)
    lat_min: float | None = Field(default=None)
    lat_max: float | None = Field(default=None)
    lon_min: float | None = Field(default=None)
    lon_max: float | None = Field(default=None)
    slots: int | None = Field(default=None)
    reputation_mean: Decimal | None = Field(default=None, sa_column=Column(Numeric(4, 2), nullable=True))
    reputation_count: int = Field(default=0)
    price_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2), nullable=True))
    price_currency: str | None = Field(default=None, max_length=4)
    price_basis: str | None = Field(default=None, max_length=8)
    completed: int = Field(default=0)
    finished: int = Field(default=0)
    last_active_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refreshed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    alerts: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False, server_default=false())
    )
    version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )


class MatchProfileCategory(SQLModel, table=True):
    """One category a provider of ``match_profiles`` provides, with what the pre-filter of a demand reads
    of their row (place, radius, box, alerts, version): the pre-filter reads the providers of its
    group's categories within a band of latitudes from the index alone (category, latitude, then the
    other columns: no table row is read), rather than every provider of the band (a dense node has
    thousands)."""

    __tablename__ = "match_profile_categories"
    __table_args__ = (Index("ix_match_profile_categories_near", *NEAR_INDEX),)

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("match_profiles.user_id", ondelete="CASCADE"), primary_key=True)
    )
    category: str = Field(primary_key=True, max_length=64)
    lat: float | None = Field(default=None)
    lon: float | None = Field(default=None)
    radius_km: float = Field(default=10.0)
    lat_min: float | None = Field(default=None)
    lat_max: float | None = Field(default=None)
    lon_min: float | None = Field(default=None)
    lon_max: float | None = Field(default=None)
    alerts: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False, server_default=false())
    )
    version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )
