"""What a funder's representative reads: an account a coordinator linked to a funder sees, read-only,
that funder's plans (beneficiary's name and folder number, no private details), the visits done in a
month, the month's statement and the invoices addressed to the funder — never another funder's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.db import one
from node.core.errors import N_, Conflict, PermissionDenied, ValidationFailed
from node.telemanagement import checks, invoices, plans, statements
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import Beneficiary, CarePlan, Funder, Visit
from node.telemanagement.tables import FunderRepresentative

MSG_NOT_YOURS = N_("This funder is not yours.")
MSG_ALREADY = N_("This account already represents this funder.")
MSG_NO_ACCOUNT = N_("No account has this username.")


def link(session: Session, user: User, funder_id: int, username: str) -> FunderRepresentative:
    """Link an account to a funder as its representative (coordinators)."""
    plans.require_coordinator(user)
    one(session, Funder, funder_id, N_("No such funder."))
    person = session.exec(select(User).where(User.username == username.strip())).first()
    if person is None:
        raise ValidationFailed(N_("Check the highlighted fields."), fields={"username": MSG_NO_ACCOUNT})
    if session.get(FunderRepresentative, (funder_id, person.id)) is not None:
        raise Conflict(MSG_ALREADY)
    row = FunderRepresentative(funder_id=funder_id, user_id=person.id or 0, linked_by_id=user.id)
    session.add(row)
    session.flush()
    return row


def unlink(session: Session, user: User, funder_id: int, user_id: int) -> None:
    plans.require_coordinator(user)
    row = one(session, FunderRepresentative, (funder_id, user_id), N_("No such representative."))
    session.delete(row)


def representatives(session: Session, funder_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(FunderRepresentative, col(FunderRepresentative.user_id) == col(User.id))
            .where(FunderRepresentative.funder_id == funder_id)
            .order_by(col(User.username))
        )
    )


def funders_of(session: Session, user: User) -> list[Funder]:
    """The funders the account represents."""
    return list(
        session.exec(
            select(Funder)
            .join(FunderRepresentative, col(FunderRepresentative.funder_id) == col(Funder.id))
            .where(FunderRepresentative.user_id == user.id)
            .order_by(col(Funder.name))
        )
    )


def represents(session: Session, user: User, funder_id: int) -> bool:
    return session.get(FunderRepresentative, (funder_id, user.id)) is not None


@dataclass(frozen=True)
class DoneVisit:
    visit: Visit
    beneficiary: str
    folder_number: str


def view(session: Session, user: User, funder_id: int, month: str) -> dict[str, Any]:
    """A funder's month as its representative reads it; :class:`PermissionDenied` for anyone else."""
    if not represents(session, user, funder_id):
        raise PermissionDenied(MSG_NOT_YOURS)
    _first, start, end = checks.month_bounds(month)
    funder, lines = statements.statement(session, funder_id, month)
    rows = list(
        session.exec(
            select(CarePlan, Beneficiary)
            .join(Beneficiary, col(Beneficiary.id) == col(CarePlan.beneficiary_id))
            .where(CarePlan.funder_id == funder_id)
            .order_by(col(Beneficiary.name), col(CarePlan.id))
        )
    )
    by_plan = {plan.id: (plan, home) for plan, home in rows}
    done = (
        list(
            session.exec(
                select(Visit)
                .where(col(Visit.plan_id).in_(list(by_plan)))
                .where(Visit.state == VisitState.DONE.value)
                .where(col(Visit.starts_at) >= start, col(Visit.starts_at) < end)
                .order_by(col(Visit.starts_at))
            )
        )
        if by_plan
        else []
    )
    return {
        "funder": funder,
        "month": month,
        "plans": [(plan, home.name) for plan, home in rows],
        "done": [DoneVisit(v, by_plan[v.plan_id][1].name, by_plan[v.plan_id][0].folder_number) for v in done],
        "statement": lines,
        "invoices": [
            row for row in invoices.invoices(session, funder_id=funder_id) if row.recipient == "funder"
        ],
    }
