"""Replacement on absence: a provider declares days away, their planned visits in those days are taken
from them and wait to be given to someone else, with suggested replacements.

A suggestion is a person who works with the absent provider (the same group: who counts is told by
the caller, :data:`Colleagues`, since groups sit above telemanagement), may provide the activity under
their status (:func:`node.catalog.eligibility.may_provide`) and offers it, is not away that day and has
no other visit overlapping. The coordinator gives the visit to one of them (or anyone else); the
beneficiary, when they have an account here, and the new provider are notified. Visits under way or
done stay with whoever clocked them. The same suggestions are offered the visit and may apply for it
(:mod:`node.telemanagement.applications`); however the visit is given — here (:func:`give`), from the
visit's page, to a provider of another node, with its whole series — the wait is settled
(:mod:`node.telemanagement.waits`) and those not chosen are told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, delete, select

from node.accounts.models import AccountStatus, User, UserCategory
from node.catalog.eligibility import may_provide
from node.core.errors import N_, ValidationFailed
from node.settings import Settings
from node.telemanagement import given, locks, plans, visits, waits
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import Visit
from node.telemanagement.tables import Absence, Reassignment, ReplacementApplication

Colleagues = Callable[[Session, int], set[int]]
"""The local people who work with a person (the members of their groups), without them."""

MAX_DAYS = 366
MSG_DAYS = N_("Give the first and last days of the absence, the last not before the first, a year at most.")
MSG_NOT_WAITING = N_("This visit does not wait for a replacement.")


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(MSG_DAYS, fields={"first_day": MSG_DAYS}) from None


def declare_absence(
    session: Session,
    settings: Settings,
    user: User,
    *,
    first_day: str,
    last_day: str,
    reason: str = "",
    provider: str = "",
) -> tuple[Absence, list[Visit]]:
    """Record an absence of ``user`` (or, for a coordinator, of ``provider``) and take their planned
    visits in those days from them; returns the absence and the visits now waiting for someone."""
    if provider.strip() and provider.strip() != user.username:
        plans.require_coordinator(user)
        away = visits.provider_named(session, provider)
    else:
        away = user
    first, last = _parse_day(first_day), _parse_day(last_day)
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValidationFailed(MSG_DAYS, fields={"last_day": MSG_DAYS})
    if len(reason) > 200:
        raise ValidationFailed(plans.MSG_TOO_LONG, fields={"reason": plans.MSG_TOO_LONG})
    assert away.id is not None
    absence = Absence(provider_id=away.id, first_day=first, last_day=last, reason=reason.strip())
    session.add(absence)
    session.flush()
    start, end = visits.day_bounds(first)[0], visits.day_bounds(last)[1]
    freed = list(
        session.exec(
            select(Visit)
            .where(
                Visit.provider_id == away.id,
                Visit.state == VisitState.PLANNED,
                Visit.starts_at >= start,
                Visit.starts_at < end,
            )
            .order_by(col(Visit.starts_at))
        )
    )
    for visit in freed:
        assert visit.id is not None and absence.id is not None
        given.hand_over(session, settings, visit, provider_id=None)
        waiting = session.get(Reassignment, visit.id)
        if waiting is not None:  # freed before, given to this provider since, freed again
            session.delete(waiting)
            session.exec(
                delete(ReplacementApplication).where(col(ReplacementApplication.visit_id) == visit.id)
            )
            session.flush()
        session.add(Reassignment(visit_id=visit.id, absence_id=absence.id, absent_provider_id=away.id))
    session.flush()
    return absence, freed


def waiting(session: Session, user: User) -> list[tuple[visits.VisitLine, Reassignment]]:
    """The visits that wait for a replacement, soonest first (coordinators)."""
    plans.require_coordinator(user)
    rows = {row.visit_id: row for row in session.exec(select(Reassignment).where(waits.open_waits()))}
    if not rows:
        return []
    found = [(visits.line_of(session, visit_id), row) for visit_id, row in rows.items()]
    return sorted(found, key=lambda pair: pair[0].visit.starts_at)


def _offers(session: Session, user_id: int, category: str) -> bool:
    return session.get(UserCategory, (user_id, category)) is not None


def _free(session: Session, user_id: int, visit: Visit) -> bool:
    overlapping = session.exec(
        select(Visit.id).where(
            Visit.provider_id == user_id,
            Visit.state != VisitState.CANCELLED,
            Visit.starts_at < visit.ends_at,
            Visit.ends_at > visit.starts_at,
        )
    ).first()
    if overlapping is not None:
        return False
    day = visit.starts_at.astimezone(visits.PARIS).date()
    away = session.exec(
        select(Absence.id).where(
            Absence.provider_id == user_id, Absence.first_day <= day, Absence.last_day >= day
        )
    ).first()
    return away is None


def suggestions(session: Session, user: User, visit_id: int, colleagues: Colleagues) -> list[User]:
    """Who could take this visit instead: colleagues of the absent provider, qualified and free."""
    plans.require_coordinator(user)
    return eligible(session, visit_id, colleagues)


def eligible(session: Session, visit_id: int, colleagues: Colleagues) -> list[User]:
    """The people a waiting visit is offered to: the absent provider's colleagues, qualified and free
    (:func:`suggestions` without asking who reads)."""
    row = waits.waiting_row(session, visit_id)
    visit = visits.visit_of(session, visit_id)
    if row is None or row.absent_provider_id is None:
        raise ValidationFailed(MSG_NOT_WAITING)
    found = []
    for person_id in sorted(colleagues(session, row.absent_provider_id) - {row.absent_provider_id}):
        person = session.get(User, person_id)
        if (
            person is not None
            and person.status == AccountStatus.ACTIVE.value
            and may_provide(visit.category, person.provider_status)
            and _offers(session, person_id, visit.category)
            and _free(session, person_id, visit)
        ):
            found.append(person)
    return found


@dataclass(frozen=True)
class Replaced:
    visit: Visit
    provider: User


def reassign(session: Session, settings: Settings, user: User, visit_id: int, provider: str) -> Replaced:
    """Give a waiting visit to ``provider``; the beneficiary (when they have an account) and the new
    provider are told."""
    plans.require_coordinator(user)
    if not provider.strip():
        raise ValidationFailed(visits.MSG_PROVIDER, fields={"provider": visits.MSG_PROVIDER})
    return give(session, settings, visit_id, visits.provider_named(session, provider))


def give(session: Session, settings: Settings, visit_id: int, chosen: User) -> Replaced:
    """Give a waiting visit to ``chosen`` (the caller checked who decides), through
    :func:`~node.telemanagement.given.hand_over`, which settles the wait (:func:`~node.telemanagement.
    waits.settle`): the beneficiary and ``chosen`` are told, pending applications for it are decided and
    the others told, and the provider of another node it had been given to, if any, is told it is no
    longer theirs."""
    if waits.waiting_row(session, visit_id, lock=True) is None:
        raise ValidationFailed(MSG_NOT_WAITING)
    visit = visits.visit_of(session, visit_id)
    if visit.state != VisitState.PLANNED:
        raise ValidationFailed(visits.MSG_NOT_PLANNED)
    locks.require_unlocked(session, visit.plan_id, visit.starts_at)
    given.hand_over(session, settings, visit, provider_id=chosen.id)
    return Replaced(visit, chosen)
