"""Replacement by providers applying: a visit waiting for a replacement (:mod:`node.telemanagement.
replacement`) is offered to the people it could go to — the absent provider's colleagues, qualified
and free then (:func:`~node.telemanagement.replacement.eligible`). They see it on their day page and
apply; the coordinators, or the beneficiary when they have an account here, choose among the
applicants; the visit is given to the one chosen, and the others are told it is taken.

An application follows :data:`~node.telemanagement.lifecycles.APPLICATION_LIFECYCLE`. Applying twice
gives back the first application; someone the visit is not offered to cannot apply (403). A visit
given any other way (by a coordinator, to a provider of another node, with its series) declines its
applications the same way (:mod:`node.telemanagement.waits`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.errors import N_, Conflict, PermissionDenied
from node.settings import Settings
from node.telemanagement import replacement, visits, waits
from node.telemanagement.lifecycles import ApplicationState
from node.telemanagement.models import Beneficiary, CarePlan, Visit
from node.telemanagement.tables import Reassignment, ReplacementApplication

MSG_NOT_OFFERED = N_(
    "This visit is not offered to you: it goes to colleagues of the absent provider, qualified and free then."
)
MSG_NOT_APPLICANT = N_("Choose one of the people who applied.")
MSG_NOT_YOURS = N_("Only the coordinators or the person helped choose who comes.")


@dataclass(frozen=True)
class Offer:
    """A waiting visit offered to a provider, and their application if they made one."""

    line: visits.VisitLine
    application: ReplacementApplication | None


def offers(session: Session, user: User, colleagues: replacement.Colleagues) -> list[Offer]:
    """The waiting visits offered to ``user``, soonest first, with their application."""
    waiting = list(session.exec(select(Reassignment.visit_id).where(waits.open_waits())))
    found: list[Offer] = []
    for visit_id in waiting:
        if user.id not in {person.id for person in replacement.eligible(session, visit_id, colleagues)}:
            continue
        found.append(
            Offer(visits.line_of(session, visit_id), session.get(ReplacementApplication, (visit_id, user.id)))
        )
    return sorted(found, key=lambda offer: offer.line.visit.starts_at)


def apply(
    session: Session, user: User, visit_id: int, colleagues: replacement.Colleagues
) -> ReplacementApplication:
    """``user`` applies for a waiting visit offered to them (the first application, when they had)."""
    existing = session.get(ReplacementApplication, (visit_id, user.id))
    if existing is not None:
        return existing
    if waits.waiting_row(session, visits.visit_of(session, visit_id).id or 0) is None:
        raise Conflict(replacement.MSG_NOT_WAITING)
    if user.id not in {person.id for person in replacement.eligible(session, visit_id, colleagues)}:
        raise PermissionDenied(MSG_NOT_OFFERED)
    row = ReplacementApplication(visit_id=visit_id, user_id=user.id or 0)
    session.add(row)
    session.flush()
    return row


def may_choose(session: Session, user: User, visit_id: int) -> bool:
    """Coordinators choose for any visit; the beneficiary with an account here for theirs."""
    if user.is_coordinator:
        return True
    plan = session.get(CarePlan, visits.visit_of(session, visit_id).plan_id)
    home = session.get(Beneficiary, plan.beneficiary_id) if plan is not None else None
    return home is not None and home.user_id is not None and home.user_id == user.id


def applicants(session: Session, user: User, visit_id: int) -> list[User]:
    """Who applied for a waiting visit and waits for an answer, first come first."""
    if not may_choose(session, user, visit_id):
        raise PermissionDenied(MSG_NOT_YOURS)
    return list(
        session.exec(
            select(User)
            .join(ReplacementApplication, col(ReplacementApplication.user_id) == col(User.id))
            .where(
                ReplacementApplication.visit_id == visit_id,
                ReplacementApplication.state == ApplicationState.APPLIED,
            )
            .order_by(col(ReplacementApplication.created_at), col(User.id))
        )
    )


def choose(
    session: Session, settings: Settings, user: User, visit_id: int, applicant_id: int
) -> replacement.Replaced:
    """Give the visit to one of its applicants; the others are told it is taken."""
    if not may_choose(session, user, visit_id):
        raise PermissionDenied(MSG_NOT_YOURS)
    row = session.get(ReplacementApplication, (visit_id, applicant_id))
    person = session.get(User, applicant_id)
    if row is None or row.state != ApplicationState.APPLIED or person is None:
        raise Conflict(MSG_NOT_APPLICANT, fields={"applicant": MSG_NOT_APPLICANT})
    return replacement.give(session, settings, visit_id, person)


def waiting_for(session: Session, user: User) -> list[tuple[visits.VisitLine, list[User]]]:
    """The beneficiary's own visits waiting for a replacement, with their applicants."""
    rows = session.exec(
        select(Reassignment.visit_id)
        .join(Visit, col(Visit.id) == col(Reassignment.visit_id))
        .join(CarePlan, col(CarePlan.id) == col(Visit.plan_id))
        .join(Beneficiary, col(Beneficiary.id) == col(CarePlan.beneficiary_id))
        .where(waits.open_waits(), Beneficiary.user_id == user.id)
    ).all()
    found = [(visits.line_of(session, visit_id), applicants(session, user, visit_id)) for visit_id in rows]
    return sorted(found, key=lambda pair: pair[0].visit.starts_at)
