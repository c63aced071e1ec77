"""A care plan made from an agreement: the visits the two parties agreed on, planned on the board.

The beneficiary side of an agreement (its requester, with an account here) or a coordinator turns an
agreement still in force (accepted, or confirmed by one party) into a plan:

- the beneficiary is the requester's record (made, with nothing private, when there is none yet);
- the funder is the node's first "private" funder, billed to the beneficiary (made when there is
  none), the beneficiary's share 100 %, the folder number ``ACC-<agreement id>``;
- the plan is valid from the schedule's first day to its last; it grants, for the agreement's
  activity, the hours of its busiest calendar month; the hourly rate is the agreed price (per hour,
  or the whole price over the agreed hours; 0 for time-bank hours);
- the visits still to come are planned by the same RFC 5545 code as a coordinator's series
  (:func:`node.telemanagement.visits.write_series`): a weekly schedule becomes
  ``FREQ=WEEKLY;BYDAY=...;UNTIL=...`` from its first occurrence not yet started, a single window one
  visit; they are assigned to the agreement's provider (or, for a group, the member who carries it
  out) when that person has an account here, and wait on the board otherwise.

What the agreement's state or terms forbid (not in force, no schedule, no activity, a beneficiary of
another node, nothing left to plan) is a :class:`~node.core.errors.Conflict`. Asking again gives the
same plan (:class:`~node.telemanagement.tables.AgreementPlan`, one per agreement, the agreement row
locked while the plan is made). Weekly slots are read as Paris wall-clock times, as every series here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors.local import local_username
from node.catalog import categories
from node.core.errors import N_, Conflict, NotFound, PermissionDenied
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market.agreements.documents import stored_schedule
from node.market.lifecycles import AgreementState
from node.market.models import Agreement
from node.settings import Settings
from node.telemanagement import plans, visits
from node.telemanagement.models import Beneficiary, CarePlan, Funder
from node.telemanagement.tables import AgreementPlan

PRIVATE_FUNDER_NAME = "Particulier"
IN_FORCE = (AgreementState.ACCEPTED.value, AgreementState.CONFIRMED_BY_ONE.value)

MSG_NOT_YOURS = N_("Only the beneficiary of this agreement or a coordinator can make a plan of it.")
MSG_NOT_IN_FORCE = N_("Only an agreement in force (accepted, not cancelled or completed) becomes a plan.")
MSG_NO_SCHEDULE = N_("This agreement has no schedule to plan visits from.")
MSG_NO_CATEGORY = N_("This agreement names no activity a plan can grant hours for.")
MSG_REMOTE_BENEFICIARY = N_("The beneficiary of this agreement has no account on this node.")
MSG_NOTHING_LEFT = N_("Every visit of this agreement has already begun: nothing is left to plan.")


@dataclass(frozen=True)
class Made:
    """The plan of an agreement, and whether this call made it."""

    plan: CarePlan
    created: bool
    visits: int


def plan_of_agreement(session: Session, agreement_id: int) -> CarePlan | None:
    """The plan made from this agreement, if any."""
    link = session.get(AgreementPlan, agreement_id)
    return session.get(CarePlan, link.plan_id) if link is not None else None


def may_make(agreement: Agreement, user: User) -> bool:
    """The requester (the beneficiary side) and coordinators may turn the agreement into a plan."""
    return user.is_coordinator or (
        agreement.local_requester_id is not None and agreement.local_requester_id == user.id
    )


def make_plan(session: Session, settings: Settings, user: User, agreement_id: int) -> Made:
    """The agreement's plan, made with its visits the first time, given back afterwards."""
    agreement = session.get(Agreement, agreement_id, with_for_update=True)
    if agreement is None:
        raise NotFound(N_("No such agreement."))
    if not may_make(agreement, user):
        raise PermissionDenied(MSG_NOT_YOURS)
    existing = plan_of_agreement(session, agreement_id)
    if existing is not None:
        return Made(existing, False, 0)
    if agreement.state not in IN_FORCE:
        raise Conflict(MSG_NOT_IN_FORCE)
    category = agreement.category or ""
    if not categories.is_category(category):
        raise Conflict(MSG_NO_CATEGORY)
    schedule = stored_schedule(agreement.schedule)
    windows = sched.occurrences(schedule) if schedule is not None else []
    if schedule is None or not windows:
        raise Conflict(MSG_NO_SCHEDULE)
    coming = [window for window in windows if window.start > utcnow()]
    if not coming:
        raise Conflict(MSG_NOTHING_LEFT)
    home = _beneficiary(session, settings, agreement)
    funder = _private_funder(session)
    minutes = int(windows[0].duration.total_seconds() // 60)
    terms = plans.Terms(
        valid_from=windows[0].start.astimezone(visits.PARIS).date(),
        valid_until=windows[-1].start.astimezone(visits.PARIS).date(),
        hourly_rate_cents=_rate_cents(agreement, windows),
        participation_bp=10000,
        minutes={category: _busiest_month(windows)},
    )
    plan = CarePlan(
        beneficiary_id=home.id or 0,
        funder_id=funder.id or 0,
        folder_number=_folder(session, funder, agreement_id),
        created_by_id=user.id,
    )
    session.add(plan)
    session.flush()
    plans.add_first_version(session, user, plan, terms)
    _series, made = visits.write_series(
        session,
        plan,
        category=category,
        first=coming[0].start,
        minutes=minutes,
        rule=_rule(schedule),
        skipped=set(),
        provider_id=_provider_id(session, settings, agreement),
    )
    session.add(AgreementPlan(agreement_id=agreement_id, plan_id=plan.id or 0, created_by_id=user.id))
    session.flush()
    return Made(plan, True, len(made))


def _rule(schedule: sched.Schedule) -> str:
    if isinstance(schedule, sched.TimeWindow):
        return "FREQ=DAILY;COUNT=1"
    days = ",".join(sched.DAY_CODES[day] for day in schedule.weekdays)
    until = schedule.last_day.strftime("%Y%m%dT235959")
    return f"FREQ=WEEKLY;BYDAY={days};UNTIL={until}"


def _busiest_month(windows: list[sched.TimeWindow]) -> int:
    per_month: Counter[tuple[int, int]] = Counter()
    for window in windows:
        local = window.start.astimezone(visits.PARIS)
        per_month[(local.year, local.month)] += int(window.duration.total_seconds() // 60)
    return max(per_month.values())


def _rate_cents(agreement: Agreement, windows: list[sched.TimeWindow]) -> int:
    if agreement.price_amount is None or agreement.price_currency != "EUR":
        return 0
    amount = Decimal(agreement.price_amount)
    if agreement.price_basis != "per_hour":
        total = sum((window.duration for window in windows), timedelta())
        hours = Decimal(agreement.quantity_hours or 0) or Decimal(total.total_seconds()) / 3600
        amount = amount / hours if hours > 0 else Decimal(0)
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _beneficiary(session: Session, settings: Settings, agreement: Agreement) -> Beneficiary:
    if agreement.local_requester_id is None:
        raise Conflict(MSG_REMOTE_BENEFICIARY)
    found = session.exec(
        select(Beneficiary)
        .where(Beneficiary.user_id == agreement.local_requester_id)
        .order_by(col(Beneficiary.id))
    ).first()
    if found is not None:
        return found
    person = session.get(User, agreement.local_requester_id)
    if person is None:  # pragma: no cover - the foreign key keeps the account
        raise Conflict(MSG_REMOTE_BENEFICIARY)
    home = Beneficiary(
        name=person.name,
        commune=person.commune_name,
        user_id=person.id,
        private_sealed=plans.seal_details(settings, plans.PrivateDetails()),
    )
    session.add(home)
    session.flush()
    return home


def _private_funder(session: Session) -> Funder:
    found = session.exec(select(Funder).where(Funder.kind == "private").order_by(col(Funder.id))).first()
    if found is not None:
        return found
    funder = Funder(name=PRIVATE_FUNDER_NAME, kind="private", billing="beneficiary")
    session.add(funder)
    session.flush()
    return funder


def _folder(session: Session, funder: Funder, agreement_id: int) -> str:
    base = folder = f"ACC-{agreement_id}"
    number = 1
    while session.exec(
        select(CarePlan.id).where(CarePlan.funder_id == funder.id, CarePlan.folder_number == folder)
    ).first():
        number += 1
        folder = f"{base}-{number}"
    return folder


def _provider_id(session: Session, settings: Settings, agreement: Agreement) -> int | None:
    if agreement.local_provider_id is not None:
        return agreement.local_provider_id
    username = local_username(settings, agreement.performer_uri) if agreement.performer_uri else None
    if username is None:
        return None
    person = session.exec(select(User).where(User.username == username)).first()
    return person.id if person is not None else None
