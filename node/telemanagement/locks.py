"""A validated month is locked: no visit of the funder's plans starting in that month (Paris time) may
be planned, assigned, cancelled, clocked or resolved any more. Kept apart from the modules that change
visits, which call :func:`require_unlocked`, so that they need nothing else of billing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from node.core.errors import N_, Conflict
from node.telemanagement.billing_models import MonthValidation
from node.telemanagement.models import CarePlan

PARIS = ZoneInfo("Europe/Paris")
MSG_LOCKED = N_("This month is validated for this funder and locked: its visits cannot be changed any more.")


def month_of(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m")


def is_locked(session: Session, funder_id: int, month: str) -> bool:
    return (
        session.exec(
            select(MonthValidation.id).where(
                MonthValidation.funder_id == funder_id, MonthValidation.month == month
            )
        ).first()
        is not None
    )


def require_unlocked(session: Session, plan_id: int, moment: datetime) -> None:
    """:class:`Conflict` when the month of ``moment`` is validated for the plan's funder."""
    plan = session.get(CarePlan, plan_id)
    if plan is not None and is_locked(session, plan.funder_id, month_of(moment)):
        raise Conflict(MSG_LOCKED)
