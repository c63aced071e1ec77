"""Checks on visits: the anomalies coordinators resolve, and planned against done hours per plan and
month.

Anomalies (a visit can have several), with the node's tolerance ``telemanagement_late_minutes``:

- ``late``: checked in more than the tolerance after the planned start;
- ``missing_check_in``: still planned, its end passed by more than the tolerance;
- ``missing_check_out``: under way, its end passed by more than the tolerance;
- ``too_short``: clocked for less than ``telemanagement_short_percent`` of the planned duration;
- ``outside_slot``: checked in before the start minus the tolerance, or after the planned end, or
  checked out after the end plus the tolerance;
- ``manual``: clocked by hand (at least one event), to be confirmed;
- ``out_of_area``: with the position check on, clocked away from the home's commune.

Done hours are clocked hours (check-in to check-out) of finished visits; planned hours are those of
visits not cancelled; granted hours are the version in force on the first day of the month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from node.core.errors import N_, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import door, plans
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import ClockEvent, Visit
from node.telemanagement.visits import PARIS, VisitLine, between, day_bounds

KINDS = (
    "late",
    "missing_check_in",
    "missing_check_out",
    "too_short",
    "outside_slot",
    "manual",
    "out_of_area",
)


def anomalies_of(
    visit: Visit, settings: Settings, now: datetime, manual: bool, outside: bool = False
) -> list[str]:
    """The anomalies of one visit at ``now`` (pure: the caller says whether it was clocked by hand, and
    away from the home)."""
    tolerance = timedelta(minutes=settings.telemanagement_late_minutes)
    found: list[str] = []
    if visit.state == VisitState.CANCELLED:
        return found
    if visit.checked_in_at is not None:
        if visit.checked_in_at > visit.starts_at + tolerance:
            found.append("late")
        if visit.checked_in_at < visit.starts_at - tolerance or visit.checked_in_at >= visit.ends_at:
            found.append("outside_slot")
    elif visit.state == VisitState.PLANNED and now > visit.ends_at + tolerance:
        found.append("missing_check_in")
    if visit.state == VisitState.IN_PROGRESS and now > visit.ends_at + tolerance:
        found.append("missing_check_out")
    if visit.checked_in_at is not None and visit.checked_out_at is not None:
        clocked = visit.checked_out_at - visit.checked_in_at
        planned = visit.ends_at - visit.starts_at
        if clocked * 100 < planned * settings.telemanagement_short_percent:
            found.append("too_short")
        if visit.checked_out_at > visit.ends_at + tolerance and "outside_slot" not in found:
            found.append("outside_slot")
    if manual:
        found.append("manual")
    if outside:
        found.append("out_of_area")
    return found


def visit_anomalies(session: Session, settings: Settings, visit: Visit) -> list[str]:
    """The anomalies of one visit now."""
    manual = session.exec(
        select(ClockEvent.id).where(ClockEvent.visit_id == visit.id, ClockEvent.method == "manual")
    ).first()
    outside = door.outside_area(session, [visit.id or 0])
    return anomalies_of(visit, settings, utcnow(), manual is not None, bool(outside))


@dataclass(frozen=True)
class Anomaly:
    line: VisitLine
    kinds: list[str]


def anomalies(session: Session, settings: Settings, start: datetime, end: datetime) -> list[Anomaly]:
    """Visits starting in [start, end) that have at least one anomaly now."""
    lines = between(session, start, end)
    ids = [line.visit.id for line in lines]
    manual = (
        set(
            session.exec(
                select(ClockEvent.visit_id).where(
                    col(ClockEvent.visit_id).in_(ids), ClockEvent.method == "manual"
                )
            )
        )
        if ids
        else set()
    )
    outside = door.outside_area(session, [i for i in ids if i is not None])
    now = utcnow()
    found = []
    for line in lines:
        kinds = anomalies_of(line.visit, settings, now, line.visit.id in manual, line.visit.id in outside)
        if kinds:
            found.append(Anomaly(line, kinds))
    return found


MSG_MONTH = N_("Give a month as YYYY-MM, between 2000 and 2100.")


def month_bounds(month: str) -> tuple[date, datetime, datetime]:
    """``2026-12`` as its first day and its Paris bounds in UTC; :class:`ValidationFailed` otherwise."""
    try:
        first = date.fromisoformat(month + "-01") if len(month) == 7 else None
    except ValueError:
        first = None
    if first is None or not 2000 <= first.year <= 2100:
        raise ValidationFailed(MSG_MONTH, fields={"month": MSG_MONTH})
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, day_bounds(first)[0], day_bounds(following)[0]


@dataclass
class CategoryHours:
    granted: int = 0  # minutes
    planned: int = 0
    done: int = 0


@dataclass
class PlanMonth:
    """A plan's month: minutes granted, planned and done per activity, and what the version says."""

    plan_id: int
    month: str
    version_number: int | None
    hourly_rate_cents: int
    participation_bp: int
    categories: dict[str, CategoryHours] = field(default_factory=dict)

    @property
    def done_minutes(self) -> int:
        return sum(hours.done for hours in self.categories.values())


def plan_month(session: Session, plan_id: int, month: str) -> PlanMonth:
    """Planned against done (and granted) for one plan and one month (``YYYY-MM``)."""
    first, start, end = month_bounds(month)
    version = plans.version_on(session, plan_id, first)
    summary = PlanMonth(
        plan_id=plan_id,
        month=month,
        version_number=version.number if version else None,
        hourly_rate_cents=version.hourly_rate_cents if version else 0,
        participation_bp=version.participation_bp if version else 0,
    )
    if version is not None:
        for category, minutes in plans.hours_of(session, version.id or 0).items():
            summary.categories.setdefault(category, CategoryHours()).granted = minutes
    visits = session.exec(
        select(Visit).where(Visit.plan_id == plan_id, Visit.starts_at >= start, Visit.starts_at < end)
    )
    for visit in visits:
        if visit.state == VisitState.CANCELLED:
            continue
        hours = summary.categories.setdefault(visit.category, CategoryHours())
        hours.planned += int((visit.ends_at - visit.starts_at).total_seconds() // 60)
        if visit.state == VisitState.DONE and visit.checked_in_at and visit.checked_out_at:
            hours.done += int((visit.checked_out_at - visit.checked_in_at).total_seconds() // 60)
    return summary


def current_month() -> str:
    return datetime.now(PARIS).strftime("%Y-%m")
