"""Giving a whole series: every visit one recurrence rule of a plan wrote (a :class:`VisitSeries`), from
a chosen day on, to one provider — of this node (a username) or of another (their actor's address) — in
one decision.

Each visit changes hands through :func:`node.telemanagement.given.hand_over`: a remote provider's node is
offered one ``Commitment`` per visit (the shape it already reads, see "Telemanagement" in FEDERATION.md),
and a remote provider who had one of them before is told it is no longer theirs. Some visits must not
move and are left, counted by why: already started (:data:`PAST`), already clocked, even in part
(:data:`CLOCKED`), cancelled (:data:`CANCELLED`), or in a month validated for the funder
(:data:`LOCKED`). Nothing is changed when the request itself is wrong (no such series, an unknown
username, an unreadable day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.db import one
from node.core.errors import N_, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import given, locks, plans, visits
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import ClockEvent, Visit, VisitSeries

PAST = "past"
CLOCKED = "clocked"
CANCELLED = "cancelled"
LOCKED = "locked"
REASONS = (PAST, CLOCKED, CANCELLED, LOCKED)
"""Why a visit of the series was left where it was, in the order pages list them."""

MSG_FROM = N_("Enter the first day as a date (YYYY-MM-DD).")
MSG_NO_SERIES = N_("No such series.")
MSG_PROVIDER = given.MSG_PROVIDER


@dataclass(frozen=True)
class SeriesGiven:
    """What giving a series did: the visits given, and how many were left, by reason."""

    series_id: int
    given: list[int]
    left: dict[str, int] = field(default_factory=dict)

    @property
    def left_count(self) -> int:
        return sum(self.left.values())

    def counts(self) -> dict[str, int]:
        """How many were given, and left for each reason (zero included), as pages show them."""
        return {"given": len(self.given), **{reason: self.left.get(reason, 0) for reason in REASONS}}


def series_of(session: Session, series_id: int) -> VisitSeries:
    found = one(session, VisitSeries, series_id, MSG_NO_SERIES)
    return found


@dataclass(frozen=True)
class SeriesLine:
    """A series as the plan's page lists it: its activity and how many of its visits are still to come."""

    series: VisitSeries
    category: str
    coming: int


def of_plan(session: Session, plan_id: int, now: datetime | None = None) -> list[SeriesLine]:
    """A plan's series, first planned first, with their planned visits still to come."""
    moment = now or utcnow()
    query = select(VisitSeries).where(VisitSeries.plan_id == plan_id).order_by(col(VisitSeries.id))
    found = []
    for series in session.exec(query):
        rows = session.exec(select(Visit).where(Visit.series_id == series.id)).all()
        coming = [v for v in rows if v.state == VisitState.PLANNED and v.starts_at > moment]
        found.append(SeriesLine(series, rows[0].category if rows else "", len(coming)))
    return found


def _first_day(text: str) -> date:
    if not text.strip():
        return visits.today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(MSG_FROM, fields={"from_day": MSG_FROM}) from None


def _why_left(session: Session, visit: Visit, now: datetime) -> str:
    if visit.state == VisitState.CANCELLED:
        return CANCELLED
    clocked = session.exec(select(ClockEvent.id).where(ClockEvent.visit_id == visit.id)).first()
    if visit.state != VisitState.PLANNED or clocked is not None:
        return CLOCKED
    if visit.starts_at <= now:
        return PAST
    plan = plans.plan_of(session, visit.plan_id)
    if locks.is_locked(session, plan.funder_id, locks.month_of(visit.starts_at)):
        return LOCKED
    return ""


def give_series(
    session: Session,
    settings: Settings,
    user: User,
    series_id: int,
    *,
    provider: str,
    from_day: str = "",
    now: datetime | None = None,
    dry_run: bool = False,
) -> SeriesGiven:
    """Give every visit of the series starting on ``from_day`` (Paris; default today) or later to
    ``provider`` (coordinators); the visits that must not move are left and counted. With ``dry_run``,
    only count: what would be given and left, by the same checks (the confirmation shows it)."""
    plans.require_coordinator(user)
    series = series_of(session, series_id)
    first = _first_day(from_day)
    provider_id, actor_uri = given.parse_provider(session, provider)
    moment = now or utcnow()
    rows = session.exec(
        select(Visit)
        .where(Visit.series_id == series.id, Visit.starts_at >= visits.day_bounds(first)[0])
        .order_by(col(Visit.starts_at), col(Visit.id))
        .with_for_update()
    ).all()
    done: list[int] = []
    left = dict.fromkeys(REASONS, 0)
    for visit in rows:
        reason = _why_left(session, visit, moment)
        if reason:
            left[reason] += 1
            continue
        if not dry_run:
            given.hand_over(session, settings, visit, provider_id=provider_id, actor_uri=actor_uri)
        done.append(visit.id or 0)
    return SeriesGiven(series_id, done, {reason: n for reason, n in left.items() if n})
