"""Planning visits: one-off or recurring (an RFC 5545 rule read by ``dateutil.rrule``, with excluded
dates), and the checks before one is given to a provider or cancelled with a reason code (the change
itself: :mod:`node.telemanagement.given`).

Times are typed as wall-clock times in Europe/Paris and stored in UTC; a weekly visit at 9:00 stays at
9:00 across the change to summer time. Every visit must fall on a day when a version of its plan is in
force and ask for an activity that version grants. A series writes its visits at once, at most
:data:`MAX_OCCURRENCES`: a rule without an end stops at the plan's last day of validity, a rule with
``COUNT`` or ``UNTIL`` that goes beyond it is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from dateutil.rrule import rrulestr
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.core.db import one
from node.core.errors import N_, ValidationFailed
from node.telemanagement import locks, plans
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import Beneficiary, CarePlan, Visit, VisitSeries

PARIS = ZoneInfo("Europe/Paris")
MAX_OCCURRENCES = 400
MAX_MINUTES = 12 * 60
CANCEL_REASONS = (
    "beneficiary_absent",
    "beneficiary_hospitalised",
    "beneficiary_cancelled",
    "provider_absent",
    "funder_stopped",
    "other",
)

MSG_START = N_("Enter a start as a date and a time.")
MSG_MINUTES = N_("A visit lasts between 15 minutes and 12 hours.")
MSG_OUTSIDE_PLAN = N_("No version of the plan is in force on that day.")
MSG_NOT_GRANTED = N_("The plan in force that day grants no hours for this activity.")
MSG_RULE = N_("Enter a recurrence rule such as FREQ=WEEKLY;BYDAY=MO,TH.")
MSG_RULE_EMPTY = N_("This rule gives no visit inside the plan's validity.")
MSG_RULE_ENDLESS = N_("This rule gives too many visits: add COUNT or UNTIL, or end the plan.")
MSG_RULE_BEYOND = N_("This rule goes beyond the plan's last day of validity.")
MSG_PROVIDER = N_("No active person with this username.")
MSG_REASON = N_("Choose a reason.")
MSG_NOT_PLANNED = N_("Only a planned visit can be changed.")


def local_start(text: str) -> datetime:
    """``2026-12-08T09:00`` (as a datetime-local field sends it) in Paris time, as an aware UTC time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(MSG_START, fields={"start": MSG_START}) from None
    if not 2000 <= moment.year <= 2100:
        raise ValidationFailed(MSG_START, fields={"start": MSG_START})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.astimezone(UTC)


def _check_minutes(minutes: int) -> timedelta:
    if not 15 <= minutes <= MAX_MINUTES:
        raise ValidationFailed(MSG_MINUTES, fields={"minutes": MSG_MINUTES})
    return timedelta(minutes=minutes)


def _check_in_plan(session: Session, plan: CarePlan, category: str, start: datetime) -> None:
    assert plan.id is not None
    version = plans.version_on(session, plan.id, start.astimezone(PARIS).date())
    if version is None:
        raise ValidationFailed(MSG_OUTSIDE_PLAN, fields={"start": MSG_OUTSIDE_PLAN})
    if category not in plans.hours_of(session, version.id or 0):
        raise ValidationFailed(MSG_NOT_GRANTED, fields={"category": MSG_NOT_GRANTED})


def provider_named(session: Session, username: str) -> User:
    found = session.exec(select(User).where(User.username == username.strip())).first()
    if found is None or found.status != AccountStatus.ACTIVE.value:
        raise ValidationFailed(MSG_PROVIDER, fields={"provider": MSG_PROVIDER})
    return found


def plan_visit(
    session: Session, user: User, *, plan_id: int, category: str, start: str, minutes: int, provider: str = ""
) -> Visit:
    """A one-off visit."""
    plans.require_coordinator(user)
    plan = plans.plan_of(session, plan_id)
    begins = local_start(start)
    length = _check_minutes(minutes)
    _check_in_plan(session, plan, category, begins)
    assignee = provider_named(session, provider) if provider.strip() else None
    locks.require_unlocked(session, plan_id, begins)
    visit = Visit(
        plan_id=plan_id,
        category=category,
        starts_at=begins,
        ends_at=begins + length,
        provider_id=assignee.id if assignee else None,
    )
    session.add(visit)
    session.flush()
    return visit


_FRANCE = holidays.country_holidays("FR")


def occurrences(rule: str, first: datetime, until: date | None, excluded: set[date]) -> list[datetime]:
    """The local starts a rule gives from ``first`` (Paris wall-clock), up to ``until``, minus the
    excluded days. Raises :class:`ValidationFailed` for a rule that cannot be read or never ends."""
    local_first = first.astimezone(PARIS).replace(tzinfo=None)
    text = rule.strip().removeprefix("RRULE:")
    if not text or "\n" in text or len(text) > 300:
        raise ValidationFailed(MSG_RULE, fields={"rule": MSG_RULE})
    try:
        recurrence = iter(rrulestr(text, dtstart=local_first))
        return _bounded(recurrence, text, until, excluded)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
        raise ValidationFailed(MSG_RULE, fields={"rule": MSG_RULE}) from None


def _bounded(
    recurrence: Iterator[datetime], text: str, until: date | None, excluded: set[date]
) -> list[datetime]:
    last = datetime.combine(until, time.max) if until else None
    found: list[datetime] = []
    for moment in recurrence:
        if last is not None and moment > last:
            if "COUNT=" in text.upper() or "UNTIL=" in text.upper():
                raise ValidationFailed(MSG_RULE_BEYOND, fields={"rule": MSG_RULE_BEYOND})
            break
        if len(found) >= MAX_OCCURRENCES:
            raise ValidationFailed(MSG_RULE_ENDLESS, fields={"rule": MSG_RULE_ENDLESS})
        if moment.date() not in excluded:
            found.append(moment.replace(tzinfo=PARIS).astimezone(UTC))
    return found


def is_holiday(day: date) -> bool:
    """A French public holiday (jour férié) of the metropolitan calendar, from the ``holidays``
    library: 1 January, Easter Monday, 1 and 8 May, Ascension, Whit Monday, 14 July, 15 August,
    1 and 11 November, 25 December."""
    return day in _FRANCE


def parse_excluded(text: str) -> set[date]:
    days: set[date] = set()
    for part in text.replace(";", ",").split(","):
        if part.strip():
            try:
                days.add(date.fromisoformat(part.strip()))
            except ValueError:
                message = N_("Excluded days are dates as YYYY-MM-DD, separated by commas.")
                raise ValidationFailed(message, fields={"excluded": message}) from None
    return days


def plan_series(
    session: Session,
    user: User,
    *,
    plan_id: int,
    category: str,
    start: str,
    minutes: int,
    rule: str,
    excluded: str = "",
    provider: str = "",
    skip_holidays: bool = False,
) -> tuple[VisitSeries, list[Visit]]:
    """Recurring visits: the series and every visit it gives inside the plan's validity; with
    ``skip_holidays``, none on a French public holiday (metropolitan calendar, :func:`is_holiday`)."""
    plans.require_coordinator(user)
    plan = plans.plan_of(session, plan_id)
    first = local_start(start)
    skipped = parse_excluded(excluded)
    assignee = provider_named(session, provider) if provider.strip() else None
    return write_series(
        session,
        plan,
        category=category,
        first=first,
        minutes=minutes,
        rule=rule,
        skipped=skipped,
        provider_id=assignee.id if assignee else None,
        skip_holidays=skip_holidays,
    )


def write_series(
    session: Session,
    plan: CarePlan,
    *,
    category: str,
    first: datetime,
    minutes: int,
    rule: str,
    skipped: set[date],
    provider_id: int | None,
    skip_holidays: bool = False,
) -> tuple[VisitSeries, list[Visit]]:
    """The series and its visits, checked against the plan (the caller checked who asks)."""
    length = _check_minutes(minutes)
    assert plan.id is not None
    last_version = plans.versions(session, plan.id)[-1]
    starts = occurrences(rule, first, last_version.valid_until, skipped)
    if skip_holidays:
        starts = [moment for moment in starts if not is_holiday(moment.astimezone(PARIS).date())]
    if not starts:
        raise ValidationFailed(MSG_RULE_EMPTY, fields={"rule": MSG_RULE_EMPTY})
    for moment in starts:
        _check_in_plan(session, plan, category, moment)
        locks.require_unlocked(session, plan.id, moment)
    series = VisitSeries(
        plan_id=plan.id,
        rule=rule.strip().removeprefix("RRULE:"),
        first_start=first,
        minutes=minutes,
        excluded=",".join(sorted(day.isoformat() for day in skipped)),
        skip_holidays=skip_holidays,
    )
    session.add(series)
    session.flush()
    made = [
        Visit(
            plan_id=plan.id,
            series_id=series.id,
            category=category,
            starts_at=moment,
            ends_at=moment + length,
            provider_id=provider_id,
        )
        for moment in starts
    ]
    session.add_all(made)
    session.flush()
    return series, made


def visit_of(session: Session, visit_id: int) -> Visit:
    found = one(session, Visit, visit_id, N_("No such visit."))
    return found


def changeable(session: Session, user: User, visit_id: int) -> Visit:
    """A planned visit a coordinator may still give or cancel (its month not validated): the checks
    only. The change itself is :mod:`node.telemanagement.given`'s, which tells a remote provider."""
    plans.require_coordinator(user)
    visit = visit_of(session, visit_id)
    if visit.state != VisitState.PLANNED:
        raise ValidationFailed(MSG_NOT_PLANNED)
    locks.require_unlocked(session, visit.plan_id, visit.starts_at)
    return visit


def check_reason(reason: str, note: str) -> None:
    """A cancellation's reason code (and, for ``other``, a note)."""
    if reason not in CANCEL_REASONS or (reason == "other" and not note.strip()):
        raise ValidationFailed(MSG_REASON, fields={"reason": MSG_REASON})
    if len(note) > 500:
        raise ValidationFailed(plans.MSG_TOO_LONG, fields={"note": plans.MSG_TOO_LONG})


@dataclass(frozen=True)
class VisitLine:
    """A visit with what a list shows beside it."""

    visit: Visit
    beneficiary: str
    commune: str
    provider: str
    beneficiary_id: int


def between(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    provider_id: int | None = None,
    plan_id: int | None = None,
    providers: Sequence[int] | None = None,
) -> list[VisitLine]:
    """The visits starting in [start, end), in time order, with their beneficiary and provider;
    ``providers``: only the visits of these people (a group's members, for its shared calendar)."""
    query = (
        select(Visit, Beneficiary, User)
        .join(CarePlan, col(CarePlan.id) == Visit.plan_id)
        .join(Beneficiary, col(Beneficiary.id) == CarePlan.beneficiary_id)
        .outerjoin(User, col(User.id) == Visit.provider_id)
        .where(Visit.starts_at >= start, Visit.starts_at < end)
        .order_by(col(Visit.starts_at), col(Visit.id))
    )
    if provider_id is not None:
        query = query.where(Visit.provider_id == provider_id)
    if plan_id is not None:
        query = query.where(Visit.plan_id == plan_id)
    if providers is not None:
        query = query.where(col(Visit.provider_id).in_(list(providers)))
    return [
        VisitLine(
            visit,
            who.name,
            who.commune,
            (person.display_name or person.username) if person else "",
            who.id or 0,
        )
        for visit, who, person in session.exec(query)
    ]


def line_of(session: Session, visit_id: int) -> VisitLine:
    """One visit with what a list shows beside it."""
    visit = visit_of(session, visit_id)
    found = between(session, visit.starts_at, visit.starts_at + timedelta(seconds=1), plan_id=visit.plan_id)
    return next(line for line in found if line.visit.id == visit_id)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A Paris day as UTC instants."""
    start = datetime.combine(day, time.min, PARIS)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time.min, PARIS).astimezone(UTC)


def today() -> date:
    return datetime.now(PARIS).date()


def provider_day_bounds(day: date) -> tuple[datetime, datetime]:
    """What a provider's day may show, as UTC instants: from the longest visit's length before the Paris
    day (a visit of the evening before, see :func:`of_the_day`) to the day's end."""
    start, end = day_bounds(day)
    return start - timedelta(minutes=MAX_MINUTES), end


def of_the_day(
    day: date, starts_at: datetime, ends_at: datetime, checked_out_at: datetime | None, cancelled: bool
) -> bool:
    """Whether a visit read within :func:`provider_day_bounds` belongs on the provider's page of ``day``:
    one starting that day, or one of the evening before that runs past midnight or still waits for its
    check-out. At 0:10 the provider of a 23:30–0:30 visit, or of a 22:00–23:00 one not yet clocked, finds
    it on today's page and at the home's code."""
    start = day_bounds(day)[0]
    return starts_at >= start or ends_at > start or (checked_out_at is None and not cancelled)
