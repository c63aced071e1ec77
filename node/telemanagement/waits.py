"""A visit waiting for a replacement after an absence (a :class:`Reassignment` not yet settled), and
settling that wait however the visit changes hands.

:func:`node.telemanagement.given.hand_over` calls :func:`settle` whenever a visit goes to someone — an
applicant chosen, a replacement picked on the replacements page, a coordinator assigning it to one of
our providers or giving it to a provider of another node, a whole series given — so that the wait is
closed, the beneficiary (when they have an account here) and the new local provider are told, and the
applications still pending are decided: the one chosen, if they applied, the others declined and told
the visit is taken. A wait given to a provider of another node is closed with no local person.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.timeutil import utcnow
from node.market.notifications import Kind, notify
from node.telemanagement.lifecycles import APPLICATION_LIFECYCLE, ApplicationState
from node.telemanagement.models import Beneficiary, CarePlan, Visit
from node.telemanagement.tables import Reassignment, ReplacementApplication


def open_waits() -> ColumnElement[bool]:
    """The condition on :class:`Reassignment` rows still waiting (settled ones have ``reassigned_at``;
    ``reassigned_to_id`` stays empty when a provider of another node took the visit)."""
    return col(Reassignment.reassigned_at).is_(None)


def waiting_row(session: Session, visit_id: int, *, lock: bool = False) -> Reassignment | None:
    """The visit's wait for a replacement, if it still waits."""
    row = session.get(Reassignment, visit_id, with_for_update=lock)
    return row if row is not None and row.reassigned_at is None else None


def settle(session: Session, visit: Visit, *, provider_id: int | None, actor_uri: str = "") -> None:
    """Close the visit's wait, if it waits, now that it went to ``provider_id`` (ours) or ``actor_uri``
    (another node's); tell who needs to know and decide the pending applications."""
    assert visit.id is not None
    row = waiting_row(session, visit.id, lock=True)
    if row is None:
        return
    chosen = session.get(User, provider_id) if provider_id is not None else None
    row.reassigned_to_id, row.reassigned_at = provider_id, utcnow()
    session.add(row)
    data: dict[str, Any] = {
        "visit": visit.id,
        "starts_at": visit.starts_at.isoformat(),
        "provider": chosen.name if chosen is not None else actor_uri,
    }
    plan = session.get(CarePlan, visit.plan_id)
    home = session.get(Beneficiary, plan.beneficiary_id) if plan else None
    if home is not None and home.user_id is not None:
        notify(home.user_id, Kind.VISIT_REPLACED, session=session, data=data)
    if chosen is not None and chosen.id is not None:
        notify(chosen.id, Kind.VISIT_GIVEN, session=session, data=data)
    pending = session.exec(
        select(ReplacementApplication).where(
            ReplacementApplication.visit_id == visit.id,
            ReplacementApplication.state == ApplicationState.APPLIED,
        )
    ).all()
    for applicant in pending:
        taken = applicant.user_id == provider_id
        applicant.state = APPLICATION_LIFECYCLE.check(
            applicant.state, ApplicationState.CHOSEN if taken else ApplicationState.DECLINED
        )
        applicant.decided_at = utcnow()
        session.add(applicant)
        if not taken:
            notify(applicant.user_id, Kind.VISIT_TAKEN, session=session, data=data)
    session.flush()
