"""Tables of telemanagement: funders, beneficiaries, care plans and their versions, visits and their
series, clock events, and the providers' calendar feeds.

What reveals health or opens a door is sealed at rest (:mod:`node.core.sealing`): a beneficiary's
address, door code and health details, each row's ``private_sealed`` holding them together. Amounts are
integer cents; rates are integer hundredths of a percent (``2500`` is 25 %). Times are aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, Text, UniqueConstraint

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


def _fk(
    target: str, *, nullable: bool = False, ondelete: str = "RESTRICT", index: bool = True
) -> Column[int]:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


class Funder(SQLModel, table=True):
    """An organisation that pays for care plans: a Conseil départemental (APA, PCH), a pension fund, a
    mutual insurer, or the beneficiary themselves (private)."""

    __tablename__ = "tm_funders"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=16)  # apa | pch | pension | mutual | insurer | private
    reference: str = Field(
        default="", max_length=60
    )  # the funder's number for this node (télétransmission id)
    siret: str = Field(default="", max_length=14)
    billing: str = Field(max_length=12)  # direct (the funder is invoiced) | beneficiary
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Beneficiary(SQLModel, table=True):
    """A person helped at home under a plan. ``private_sealed`` holds the address, the door code and
    the health details; ``qr_generation`` is bumped to revoke the home's printed QR code."""

    __tablename__ = "tm_beneficiaries"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    commune: str = Field(default="", max_length=80)
    user_id: int | None = Field(default=None, sa_column=_fk("users.id", nullable=True, ondelete="SET NULL"))
    private_sealed: str = Field(sa_column=Column(Text, nullable=False))
    qr_generation: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CarePlan(SQLModel, table=True):
    """A plan d'aide: one beneficiary, one funder, one folder number; its terms live in versions."""

    __tablename__ = "tm_care_plans"
    __table_args__ = (UniqueConstraint("funder_id", "folder_number"),)

    id: int | None = Field(default=None, primary_key=True)
    beneficiary_id: int = Field(sa_column=_fk("tm_beneficiaries.id"))
    funder_id: int = Field(sa_column=_fk("tm_funders.id"))
    folder_number: str = Field(max_length=60)
    created_by_id: int | None = Field(
        default=None, sa_column=_fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CarePlanVersion(SQLModel, table=True):
    """The terms of a plan over a period. A new version closes the previous one the day before it
    starts; versions never overlap and are never edited."""

    __tablename__ = "tm_care_plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "number"),
        CheckConstraint("hourly_rate_cents >= 0", name="rate_not_negative"),
        CheckConstraint("participation_bp >= 0 AND participation_bp <= 10000", name="participation_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=_fk("tm_care_plans.id"))
    number: int
    valid_from: date = Field(sa_column=Column(Date, nullable=False))
    valid_until: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    hourly_rate_cents: int
    participation_bp: int  # the beneficiary's share, hundredths of a percent
    created_by_id: int | None = Field(
        default=None, sa_column=_fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CarePlanHours(SQLModel, table=True):
    """Minutes per month a version grants for one activity (a category of art. D7231-1)."""

    __tablename__ = "tm_care_plan_hours"
    __table_args__ = (CheckConstraint("minutes_per_month > 0", name="positive_minutes"),)

    version_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tm_care_plan_versions.id", ondelete="CASCADE"), primary_key=True
        )
    )
    category: str = Field(max_length=64, primary_key=True)
    minutes_per_month: int


class VisitSeries(SQLModel, table=True):
    """Recurring visits: an RFC 5545 rule from a first local start, with excluded dates. Its visits are
    written when the series is planned (bounded by the plan's validity), so that each can be assigned,
    cancelled and clocked on its own."""

    __tablename__ = "tm_visit_series"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=_fk("tm_care_plans.id"))
    rule: str = Field(max_length=300)
    first_start: datetime = Field(sa_type=UTCDateTime)
    minutes: int
    excluded: str = Field(default="", max_length=2000)  # ISO dates, comma separated
    skip_holidays: bool = Field(default=False)  # no visit on a French public holiday
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Visit(SQLModel, table=True):
    """A planned visit at a beneficiary's home, its provider, its state and what the clock said."""

    __tablename__ = "tm_visits"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_tm_visits_provider_starts", "provider_id", "starts_at"),
        Index("ix_tm_visits_starts_at", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=_fk("tm_care_plans.id"))
    series_id: int | None = Field(
        default=None, sa_column=_fk("tm_visit_series.id", nullable=True, ondelete="SET NULL")
    )
    category: str = Field(max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    provider_id: int | None = Field(
        default=None, sa_column=_fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    )
    state: str = Field(default="planned", max_length=12, index=True)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str = Field(default="", max_length=24)
    cancel_note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ClockEvent(SQLModel, table=True):
    """One check-in or check-out as it happened: when on the provider's clock, when received, how (the
    home's QR code, or by hand with the reason). No position is ever stored."""

    __tablename__ = "tm_clock_events"
    __table_args__ = (UniqueConstraint("visit_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(sa_column=_fk("tm_visits.id"))
    kind: str = Field(max_length=3)  # in | out
    at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    method: str = Field(max_length=8)  # qr | manual
    manual_reason: str = Field(default="", max_length=24)
    provider_id: int | None = Field(
        default=None, sa_column=_fk("users.id", nullable=True, ondelete="SET NULL", index=False)
    )


class CalendarFeed(SQLModel, table=True):
    """A provider's iCalendar feed: its secret URL is derived from the node secret and ``generation``,
    which is bumped to revoke the URL handed out."""

    __tablename__ = "tm_calendar_feeds"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    generation: int = Field(default=1)
