"""Resolving anomalies and validating a month, per funder.

A coordinator resolves a visit's anomalies (:mod:`node.telemanagement.checks`) at once, with an
adjustment code of :mod:`node.telemanagement.adjustments` that fits what was clocked and, for a
correction, the retained period on the visit's day. The raw clock times are kept as they were; the
retained period is what is billed and exported (``MDT``: the clocked period; ``SUP``: nothing).

A month is validated for one funder once it is over and none of the visits of that funder's plans
starting in it (Paris time) has an anomaly left unresolved. It is then locked
(:mod:`node.telemanagement.locks`): invoices are issued from it and nothing in it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import adjustments, checks, locks, plans
from node.telemanagement.billing_models import MonthValidation, Resolution
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import CarePlan, Funder, Visit
from node.telemanagement.visits import PARIS, local_start, visit_of

MSG_CODE = N_("Choose an adjustment code that fits what was clocked.")
MSG_NOTHING = N_("This visit has no anomaly to resolve.")
MSG_RESOLVED = N_("This visit's anomalies are already resolved.")
MSG_RETAINED = N_("Give the retained start and end, on the visit's day, the end after the start.")
MSG_NOTE = N_("A note has at most 500 characters.")
MSG_NOT_OVER = N_("A month can be validated only once it is over.")
MSG_OPEN = N_("Some visits of this month still have an anomaly to resolve.")
MSG_VALIDATED = N_("This month is already validated for this funder.")


def resolution_of(session: Session, visit_id: int) -> Resolution | None:
    return session.exec(select(Resolution).where(Resolution.visit_id == visit_id)).first()


def _moment(text: str, name: str) -> datetime:
    try:
        return local_start(text)
    except ValidationFailed:
        raise ValidationFailed(MSG_RETAINED, fields={name: MSG_RETAINED}) from None


def _retained(code: adjustments.Code, visit: Visit, start: str, end: str) -> tuple[datetime, datetime] | None:
    """The retained period: none, the clocked one, or the one given, where a time the clock did record
    stays as recorded (only the missing one is given)."""
    if code.retained == "none":
        return None
    if code.retained == "clocked":
        assert visit.checked_in_at is not None and visit.checked_out_at is not None
        return visit.checked_in_at, visit.checked_out_at
    begins = visit.checked_in_at or _moment(start, "retained_start")
    ends = visit.checked_out_at or _moment(end, "retained_end")
    day = visit.starts_at.astimezone(PARIS).date()
    if begins.astimezone(PARIS).date() != day or not begins < ends <= begins + timedelta(hours=12):
        raise ValidationFailed(MSG_RETAINED, fields={"retained_end": MSG_RETAINED})
    return begins, ends


def resolve(
    session: Session,
    settings: Settings,
    user: User,
    visit_id: int,
    code: str,
    *,
    retained_start: str = "",
    retained_end: str = "",
    note: str = "",
) -> Resolution:
    """Resolve the anomalies a visit has now with ``code`` (and the retained period it asks for)."""
    plans.require_coordinator(user)
    visit = session.get(Visit, visit_id, with_for_update=True) or visit_of(session, visit_id)
    locks.require_unlocked(session, visit.plan_id, visit.starts_at)
    if resolution_of(session, visit_id) is not None:
        raise Conflict(MSG_RESOLVED)
    kinds = checks.visit_anomalies(session, settings, visit)
    if not kinds:
        raise ValidationFailed(MSG_NOTHING)
    fits = adjustments.applicable(visit.checked_in_at is not None, visit.checked_out_at is not None)
    chosen = adjustments.BY_CODE.get(code)
    if chosen is None or chosen not in fits:
        raise ValidationFailed(MSG_CODE, fields={"code": MSG_CODE})
    if len(note) > 500:
        raise ValidationFailed(MSG_NOTE, fields={"note": MSG_NOTE})
    period = _retained(chosen, visit, retained_start, retained_end)
    row = Resolution(
        visit_id=visit_id,
        code=chosen.code,
        kinds=",".join(kinds),
        retained_start=period[0] if period else None,
        retained_end=period[1] if period else None,
        note=note.strip(),
        resolved_by_id=user.id,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Billable:
    """A visit as billed: its retained period and the adjustment code, if a coordinator gave one."""

    visit: Visit
    start: datetime
    end: datetime
    code: str

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def _funder_visits(session: Session, funder_id: int, month: str) -> list[Visit]:
    _, start, end = checks.month_bounds(month)
    plan_ids = list(session.exec(select(CarePlan.id).where(CarePlan.funder_id == funder_id)))
    if not plan_ids:
        return []
    return list(
        session.exec(
            select(Visit)
            .where(col(Visit.plan_id).in_(plan_ids), Visit.starts_at >= start, Visit.starts_at < end)
            .order_by(col(Visit.starts_at), col(Visit.id))
        )
    )


def billable(session: Session, visits: list[Visit]) -> list[Billable]:
    """What is billed of these visits: the resolution's retained period, else the clocked period of a
    finished visit; cancelled, deleted (``SUP``) and never-finished, unresolved visits give nothing."""
    ids = [visit.id for visit in visits]
    resolved = (
        {
            row.visit_id: row
            for row in session.exec(select(Resolution).where(col(Resolution.visit_id).in_(ids)))
        }
        if ids
        else {}
    )
    found: list[Billable] = []
    for visit in visits:
        row = resolved.get(visit.id or 0)
        if visit.state == VisitState.CANCELLED:
            continue
        if row is not None:
            if row.retained_start is not None and row.retained_end is not None:
                found.append(Billable(visit, row.retained_start, row.retained_end, row.code))
        elif visit.state == VisitState.DONE and visit.checked_in_at and visit.checked_out_at:
            found.append(Billable(visit, visit.checked_in_at, visit.checked_out_at, ""))
    return found


def plan_billable(session: Session, plan_id: int, month: str) -> list[Billable]:
    _, start, end = checks.month_bounds(month)
    visits = session.exec(
        select(Visit)
        .where(Visit.plan_id == plan_id, Visit.starts_at >= start, Visit.starts_at < end)
        .order_by(col(Visit.starts_at), col(Visit.id))
    )
    return billable(session, list(visits))


def funder_billable(session: Session, funder_id: int, month: str) -> list[Billable]:
    return billable(session, _funder_visits(session, funder_id, month))


@dataclass(frozen=True)
class OpenAnomaly:
    visit: Visit
    kinds: list[str]
    codes: list[str]


def open_anomalies(session: Session, settings: Settings, funder_id: int, month: str) -> list[OpenAnomaly]:
    """The funder's visits of the month with anomalies and no resolution yet, and the codes that fit."""
    visits = _funder_visits(session, funder_id, month)
    ids = [visit.id for visit in visits]
    resolved = (
        set(session.exec(select(Resolution.visit_id).where(col(Resolution.visit_id).in_(ids))))
        if ids
        else set()
    )
    found = []
    for visit in visits:
        if visit.id in resolved:
            continue
        kinds = checks.visit_anomalies(session, settings, visit)
        if kinds:
            codes = adjustments.applicable(visit.checked_in_at is not None, visit.checked_out_at is not None)
            found.append(OpenAnomaly(visit, kinds, [code.code for code in codes]))
    return found


def validation_of(session: Session, funder_id: int, month: str) -> MonthValidation | None:
    return session.exec(
        select(MonthValidation).where(MonthValidation.funder_id == funder_id, MonthValidation.month == month)
    ).first()


def validate_month(
    session: Session, settings: Settings, user: User, funder_id: int, month: str
) -> MonthValidation:
    """Validate and lock a funder's month: refused before its end or while an anomaly is open."""
    plans.require_coordinator(user)
    _, _, end = checks.month_bounds(month)
    if session.get(Funder, funder_id) is None:
        raise NotFound(N_("No such funder."))
    if validation_of(session, funder_id, month) is not None:
        raise Conflict(MSG_VALIDATED)
    if utcnow() < end:
        raise ValidationFailed(MSG_NOT_OVER, fields={"month": MSG_NOT_OVER})
    if open_anomalies(session, settings, funder_id, month):
        raise Conflict(MSG_OPEN)
    row = MonthValidation(funder_id=funder_id, month=month, validated_by_id=user.id)
    session.add(row)
    session.flush()
    return row


def validations(session: Session) -> list[MonthValidation]:
    return list(
        session.exec(
            select(MonthValidation).order_by(col(MonthValidation.month).desc(), col(MonthValidation.id))
        )
    )
