"""The statements of one clock event, compiled once and run on the driver's cursor
(:mod:`node.core.prepared`): a check-in or check-out is the hot path of telemanagement (every visit,
twice), and through the ORM it cost five statements and two flushes beside the event itself.

Here an event is: the visit read with its plan's home and funder and locked (one ``SELECT ... FOR
UPDATE``), the funder's month checked for a validation (one ``SELECT``), the visit moved (one
``UPDATE``), the event written (one ``INSERT ... RETURNING``); then its link in the clock log
(:func:`node.telemanagement.clocklog.append`). No ORM object is built; an object of the session's
identity map for the visit is expired, so that a later read in the same session sees the new state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import object_session
from sqlmodel import Session

from node.core.prepared import Prepared, result_processor
from node.core.sqlbase import table_of
from node.core.timeutil import UTCDateTime
from node.telemanagement.billing_models import MonthValidation
from node.telemanagement.models import CarePlan, ClockEvent, Visit

_VISITS, _PLANS = table_of(Visit), table_of(CarePlan)
_EVENTS, _MONTHS = table_of(ClockEvent), table_of(MonthValidation)

_VISIT = Prepared(
    select(
        _VISITS.c.id,
        _VISITS.c.plan_id,
        _VISITS.c.starts_at,
        _VISITS.c.provider_id,
        _VISITS.c.state,
        _VISITS.c.checked_in_at,
        _VISITS.c.checked_out_at,
        _PLANS.c.beneficiary_id,
        _PLANS.c.funder_id,
    )
    .select_from(_VISITS.join(_PLANS, _PLANS.c.id == _VISITS.c.plan_id))
    .where(_VISITS.c.id == bindparam("visit_id"))
    .with_for_update(of=_VISITS)
)
_VALIDATED = Prepared(
    select(_MONTHS.c.id).where(
        _MONTHS.c.funder_id == bindparam("funder_id"), _MONTHS.c.month == bindparam("month")
    )
)
_MOVE = {
    kind: Prepared(
        update(_VISITS)
        .where(_VISITS.c.id == bindparam("visit_id"))
        .values({"state": bindparam("new_state"), column: bindparam("moment", type_=UTCDateTime())})
    )
    for kind, column in (("in", "checked_in_at"), ("out", "checked_out_at"))
}
_EVENT = Prepared(insert(_EVENTS).returning(_EVENTS.c.id))
_TIMES: dict[str, Any] = {}


@dataclass(slots=True)
class LockedVisit:
    """A visit as a clock event needs it, its row locked until the transaction ends."""

    id: int
    plan_id: int
    starts_at: datetime
    provider_id: int | None
    state: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    beneficiary_id: int
    funder_id: int


@dataclass(frozen=True, slots=True)
class Clocked:
    """A clock event as recorded (or as first recorded, for one sent again)."""

    id: int
    visit_id: int
    kind: str
    at: datetime
    received_at: datetime
    method: str
    manual_reason: str
    provider_id: int | None
    offline: bool

    @classmethod
    def of(cls, event: ClockEvent, *, offline: bool) -> Clocked:
        assert event.id is not None
        return cls(
            event.id,
            event.visit_id,
            event.kind,
            event.at,
            event.received_at,
            event.method,
            event.manual_reason,
            event.provider_id,
            offline,
        )


def _time(session: Session) -> Any:
    """The database's datetime as an aware UTC one (the column type's own conversion), per dialect."""
    dialect = session.get_bind().dialect.name
    found = _TIMES.get(dialect)
    if found is None:
        found = _TIMES[dialect] = result_processor(session, UTCDateTime())
    return found


def locked_visit(session: Session, visit_id: int) -> LockedVisit | None:
    session.flush()  # what the caller changed through the ORM is seen (nothing to do, usually)
    rows = _VISIT.run(session, {"visit_id": visit_id})
    if not rows:
        return None
    row = rows[0]
    time = _time(session)
    return LockedVisit(
        row[0],
        row[1],
        time(row[2]),
        row[3],
        row[4],
        time(row[5]) if row[5] is not None else None,
        time(row[6]) if row[6] is not None else None,
        row[7],
        row[8],
    )


def month_validated(session: Session, funder_id: int, month: str) -> bool:
    return bool(_VALIDATED.run(session, {"funder_id": funder_id, "month": month}))


def save_move(session: Session, visit: LockedVisit, kind: str, moment: datetime) -> None:
    """Write the visit's new state and clocked time (after :func:`clocking.move` checked them)."""
    _MOVE[kind].run(session, {"visit_id": visit.id, "new_state": visit.state, "moment": moment})
    cached = session.identity_map.get(session.identity_key(Visit, visit.id))
    if cached is not None and object_session(cached) is session:
        session.expire(cached)


def insert_event(session: Session, values: dict[str, Any]) -> int:
    """Write a clock event; its id."""
    return int(_EVENT.run(session, values)[0][0])
