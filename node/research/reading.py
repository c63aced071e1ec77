"""Reading :class:`~.records.Records` from the database: what the indicators need and nothing else (no
titles, no descriptions, no places finer than the node, no comments), opted-out people taken out.

Whatever an opted-out person took part in is left out as a whole (their proposals, the answers they
gave, their agreements and the evaluations of those, their transfers and assignments), so that no figure
keeps half of an exchange that involved them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub import addressing
from node.core.timeutil import utcnow
from node.groups.models import Assignment, Group
from node.market.models import Agreement, Bid, Evaluation, Proposal
from node.research.models import ResearchOptOut
from node.research.records import (
    FEDERATED,
    LOCAL,
    AgreementRecord,
    AssignmentRecord,
    EvaluationRecord,
    ProposalRecord,
    Records,
    TransferRecord,
    VisitRecord,
)
from node.settings import Settings
from node.telemanagement.checks import anomalies_of
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import Beneficiary, CarePlan, ClockEvent, Visit
from node.timebank.models import TimebankAccount, Transfer

PERSON_TO_PERSON = ("payment", "gift")


def opted_out(session: Session, settings: Settings) -> set[str]:
    """The actor URIs of the people left out: those who opted out, and deleted accounts."""
    query = (
        select(User.username)
        .outerjoin(ResearchOptOut, col(ResearchOptOut.user_id) == col(User.id))
        .where(or_(col(ResearchOptOut.user_id).is_not(None), col(User.status) == AccountStatus.DELETED.value))
    )
    return {settings.url(f"/users/{name}") for name in session.exec(query)}


def _scope(origin: str) -> str:
    return LOCAL if not origin else FEDERATED


def _per_hour(amount: Decimal | None, basis: str | None, hours: Decimal | None) -> Decimal | None:
    if amount is None:
        return None
    if basis == "per_hour":
        return amount
    if hours:
        return amount / hours
    return None


def read(session: Session, settings: Settings, until: datetime) -> Records:
    """Every record made before ``until`` (the end of the last month wanted)."""
    out = opted_out(session, settings)
    records = Records()
    bids: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    bid_rows = session.exec(
        select(Bid.proposal_id, Bid.bidder_uri, Bid.created_at).where(col(Bid.created_at) < until)
    )
    for proposal_id, bidder, at in bid_rows:
        bids[proposal_id].append((bidder, at))
    published: dict[int, datetime] = {}
    proposal_rows = session.connection().execute(
        sa_select(
            col(Proposal.id),
            col(Proposal.origin),
            col(Proposal.author_uri),
            col(Proposal.purpose),
            col(Proposal.category),
            col(Proposal.published_at),
        ).where(col(Proposal.published_at) < until)
    )
    for pid, origin, author, purpose, category, at in proposal_rows:
        assert pid is not None
        published[pid] = at
        if author in out:
            continue
        answers = tuple(sorted((a for a in bids.get(pid, []) if a[0] not in out), key=lambda a: a[1]))
        records.proposals.append(ProposalRecord(_scope(origin), author, purpose, category or "", at, answers))
    excluded: set[str] = set()
    origins: dict[str, str] = {}

    def origin_of(uri: str) -> str:
        if uri not in origins:
            origins[uri] = addressing.origin(uri)
        return origins[uri]

    agreement_rows = session.connection().execute(
        sa_select(
            col(Agreement.ap_id),
            col(Agreement.origin),
            col(Agreement.provider_uri),
            col(Agreement.requester_uri),
            col(Agreement.created_at),
            col(Agreement.proposal_id),
            col(Agreement.state),
            col(Agreement.late_cancellation),
            col(Agreement.disputed_at),
            col(Agreement.price_currency),
            col(Agreement.price_amount),
            col(Agreement.price_basis),
            col(Agreement.quantity_hours),
        ).where(col(Agreement.created_at) < until)
    )
    for a in agreement_rows.mappings():
        provider, requester = a["provider_uri"], a["requester_uri"]
        if provider in out or requester in out:
            excluded.add(a["ap_id"])
            continue
        records.agreements.append(
            AgreementRecord(
                scope=_scope(a["origin"]),
                provider=provider,
                requester=requester,
                created_at=a["created_at"],
                proposal_published_at=published.get(a["proposal_id"]) if a["proposal_id"] else None,
                state=a["state"],
                late_cancellation=bool(a["late_cancellation"]),
                disputed=a["disputed_at"] is not None,
                currency=a["price_currency"],
                per_hour=_per_hour(a["price_amount"], a["price_basis"], a["quantity_hours"]),
                cross_node=origin_of(provider) != origin_of(requester),
            )
        )
    evaluation_rows = session.connection().execute(
        sa_select(
            col(Evaluation.origin),
            col(Evaluation.evaluator_uri),
            col(Evaluation.evaluated_uri),
            col(Evaluation.evaluated_role),
            col(Evaluation.overall),
            col(Evaluation.published_at),
            col(Evaluation.agreement_ap_id),
        ).where(
            col(Evaluation.state) == "published",
            col(Evaluation.published_at).is_not(None),
            col(Evaluation.published_at) < until,
        )
    )
    for e in evaluation_rows.mappings():
        if e["evaluator_uri"] in out or e["evaluated_uri"] in out or e["agreement_ap_id"] in excluded:
            continue
        records.evaluations.append(
            EvaluationRecord(
                _scope(e["origin"]),
                e["evaluator_uri"],
                e["evaluated_uri"],
                e["evaluated_role"],
                e["overall"],
                e["published_at"],
            )
        )
    records.transfers = _transfers(session, settings, until, out)
    groups = dict(session.exec(select(Group.id, Group.name)).all())
    assignment_rows = session.exec(
        select(
            Assignment.group_id, Assignment.member_uri, Assignment.created_at, Assignment.agreement_ap_id
        ).where(col(Assignment.created_at) < until)
    )
    for group_id, member, at, agreement in assignment_rows:
        if member not in out and agreement not in excluded:
            records.assignments.append(AssignmentRecord(groups.get(group_id, str(group_id)), member, at))
    records.visits = _visits(session, settings, until, out)
    return records


def _visits(session: Session, settings: Settings, until: datetime, out: set[str]) -> list[VisitRecord]:
    """Telemanagement visits assigned to a provider and not cancelled (read only: no name, address or
    note is read; the beneficiary is known by a number, and left out when they opted out)."""
    names = dict(session.exec(select(User.id, User.username)).all())
    manual = set(session.exec(select(ClockEvent.visit_id).where(ClockEvent.method == "manual")))
    rows = session.exec(
        select(Visit, CarePlan.beneficiary_id, Beneficiary.user_id)
        .join(CarePlan, col(CarePlan.id) == col(Visit.plan_id))
        .join(Beneficiary, col(Beneficiary.id) == col(CarePlan.beneficiary_id))
        .where(
            col(Visit.starts_at) < until,
            col(Visit.provider_id).is_not(None),
            col(Visit.state) != VisitState.CANCELLED.value,
        )
    )
    now = utcnow()
    tolerance = timedelta(minutes=settings.telemanagement_late_minutes)
    found = []
    for visit, beneficiary_id, beneficiary_user in rows:
        provider = settings.url(f"/users/{names.get(visit.provider_id)}")
        person = names.get(beneficiary_user) if beneficiary_user is not None else None
        if provider in out or (person is not None and settings.url(f"/users/{person}") in out):
            continue
        done = None
        if visit.state == VisitState.DONE and visit.checked_in_at and visit.checked_out_at:
            done = int((visit.checked_out_at - visit.checked_in_at).total_seconds() // 60)
        found.append(
            VisitRecord(
                provider=provider,
                beneficiary=f"beneficiary:{beneficiary_id}",
                starts_at=visit.starts_at,
                planned_minutes=int((visit.ends_at - visit.starts_at).total_seconds() // 60),
                done_minutes=done,
                checked_in=visit.checked_in_at is not None,
                past=now > visit.ends_at + tolerance,
                anomalies=tuple(anomalies_of(visit, settings, now, visit.id in manual)),
            )
        )
    return found


def _transfers(session: Session, settings: Settings, until: datetime, out: set[str]) -> list[TransferRecord]:
    owners = {
        account_id: settings.url(f"/users/{name}")
        for account_id, name in session.exec(
            select(TimebankAccount.id, User.username).join(User, col(User.id) == col(TimebankAccount.user_id))
        )
    }
    found = []
    rows = session.exec(
        select(
            Transfer.debit_account_id, Transfer.credit_account_id, Transfer.amount, Transfer.settled_at
        ).where(
            col(Transfer.state) == "settled",
            col(Transfer.kind).in_(PERSON_TO_PERSON),
            col(Transfer.settled_at).is_not(None),
            col(Transfer.settled_at) < until,
        )
    )
    for debit, credit, amount, at in rows:
        payer, payee = owners.get(debit), owners.get(credit)
        if payer is None or payee is None or payer in out or payee in out or at is None:
            continue  # a clearing account is a node, not a person: transfers across nodes are left out
        found.append(TransferRecord(payer, payee, Decimal(amount) / 100, at))
    return found
