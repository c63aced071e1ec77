"""The group at work in the marketplace: offers published in its name, answers (bids) to demands in its
name, its agreements, and the member assigned to each one.

A coordinator acts for the group; the marketplace is told so explicitly (``on_behalf_of``, the group's
actor) and keeps working for people as before. When an agreement of the group is made, a member is
assigned by the rule the group chose (:class:`~node.groups.rules.SharingRule`: a coordinator picks, in
turn among the members offering that category, or the first member free at that time), and can be
replaced. The assignment is the group's ValueFlows ``Commitment`` (``provider`` the member, ``receiver``
the other party, ``clauseOf`` the agreement), sent with ``Create`` (``Update`` on a replacement) to the
other party and to the members concerned; every node that holds or mirrors the agreement records the
member as its ``performer``, and evaluations of the group's service count for that member too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.outbox.publish import publish
from node.catalog.statuses import ProviderStatus
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.timeutil import utcnow
from node.groups import records
from node.groups.legal import Shape
from node.groups.models import Assignment, Group, Member
from node.groups.rules import SharingRule
from node.groups.service import actor_of, require_coordinator
from node.market.agreements import service as agreements
from node.market.agreements.parties import is_holder, role_of
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.lifecycles import AgreementState
from node.market.models import Agreement, Bid, Evaluation, Proposal
from node.market.notifications import Kind, notify
from node.market.proposals import service as proposals
from node.market.vocab.common import CONTEXT, format_number
from node.settings import Settings

MSG_NOT_OURS = N_("This agreement is not the group's.")
MSG_NOT_OUR_PROPOSAL = N_("This proposal is not the group's.")
MSG_NOT_PROVIDER = N_("Members are assigned to the services the group provides.")
MSG_NO_CANDIDATE = N_("No member is available for this service: assign one by hand.")
MSG_NOT_ASSIGNABLE = N_("This agreement is over: its member can no longer change.")
MSG_MEMBER_REQUIRED = N_("Choose the member.")
STATUS_OF_SHAPE: dict[Shape, ProviderStatus] = {
    Shape.SCIC: ProviderStatus.COOPERATIVE_MEMBER,
    Shape.SCOP: ProviderStatus.COOPERATIVE_MEMBER,
    Shape.CAE: ProviderStatus.COOPERATIVE_MEMBER,
    Shape.ASSOCIATION: ProviderStatus.ASSOCIATION,
    # A status that admits the declared activities only (no agrément can be held).
    Shape.COLLECTIVE: ProviderStatus.PRIVATE_INDIVIDUAL,
}
OPEN_STATES = (
    AgreementState.ACCEPTED.value,
    AgreementState.CONFIRMED_BY_ONE.value,
    AgreementState.DISPUTED.value,
)


# --- offers and bids in the group's name --------------------------------------------------------------


def provider_status(group: Group) -> ProviderStatus:
    """The status under which the group provides services, from the legal shape it declares (the
    platform relies on declared statuses, as for people: :mod:`node.catalog.eligibility`), never its
    coordinator's. A cooperative (SCIC, SCOP, CAE) or an association is a legal person that may hold the
    agrément (Code du travail, L7232-1) its members work under; an informal collective is not one and
    holds none, so it provides only the declared activities (D7231-1 II) — its self-employed members
    offer the others in their own name."""
    return STATUS_OF_SHAPE[Shape(group.legal_shape)]


def publish_offer(
    settings: Settings, coordinator: User, group: Group, data: proposals.ProposalInput, *, session: Session
) -> Proposal:
    """A coordinator publishes an offer (or a demand) in the group's name, under the group's status."""
    require_coordinator(group, coordinator, session=session)
    return proposals.create(
        settings,
        coordinator,
        data,
        session=session,
        on_behalf_of=actor_of(settings, group),
        provider_status=provider_status(group),
    )


def withdraw_offer(
    settings: Settings, coordinator: User, group: Group, proposal_id: int, *, session: Session
) -> Proposal:
    """A coordinator withdraws one of the group's open offers or demands (its ``Delete``, announced)."""
    require_coordinator(group, coordinator, session=session)
    row = session.get(Proposal, proposal_id, with_for_update=True)
    if row is None or row.origin != "" or row.author_uri != actor_of(settings, group).uri:
        raise NotFound(MSG_NOT_OUR_PROPOSAL)
    return proposals.withdraw(
        settings, coordinator, row, session=session, on_behalf_of=actor_of(settings, group)
    )


def answer(
    settings: Settings,
    coordinator: User,
    group: Group,
    proposal: Proposal,
    data: bids.BidInput,
    *,
    session: Session,
) -> Bid:
    """The group answers a demand (its bid, in its name)."""
    require_coordinator(group, coordinator, session=session)
    return bids.place_bid(
        settings,
        coordinator,
        proposal,
        data,
        session=session,
        on_behalf_of=actor_of(settings, group),
        provider_status=provider_status(group),
    )


def decide_bid(
    settings: Settings,
    coordinator: User,
    group: Group,
    bid_id: int,
    *,
    accept: bool,
    reason: str = "",
    session: Session,
) -> Agreement | Bid:
    """A coordinator accepts (the agreement) or declines a bid on one of the group's proposals."""
    require_coordinator(group, coordinator, session=session)
    bid = session.get(Bid, bid_id)
    if bid is None:
        raise NotFound(bids.MSG_NO_SUCH_BID)
    actor = actor_of(settings, group)
    if accept:
        return bids.accept_bid(settings, coordinator, bid, session=session, on_behalf_of=actor)
    return bids.reject_bid(settings, coordinator, bid, reason, session=session, on_behalf_of=actor)


def proposals_of(settings: Settings, group: Group, *, session: Session) -> Sequence[Proposal]:
    """The group's own offers and demands, newest first."""
    return session.exec(
        select(Proposal)
        .where(col(Proposal.author_uri) == actor_of(settings, group).uri, col(Proposal.origin) == "")
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
    ).all()


def bids_of(settings: Settings, group: Group, *, session: Session) -> Sequence[tuple[Bid, Proposal]]:
    """The group's answers to others' proposals, newest first."""
    rows = session.exec(
        select(Bid, Proposal)
        .join(Proposal, col(Proposal.id) == col(Bid.proposal_id))
        .where(col(Bid.bidder_uri) == actor_of(settings, group).uri)
        .order_by(col(Bid.created_at).desc(), col(Bid.id).desc())
    ).all()
    return [(b, p) for b, p in rows]


def received_bids(settings: Settings, group: Group, *, session: Session) -> Sequence[tuple[Bid, Proposal]]:
    """The answers to the group's proposals, active first."""
    rows = session.exec(
        select(Bid, Proposal)
        .join(Proposal, col(Proposal.id) == col(Bid.proposal_id))
        .where(col(Proposal.author_uri) == actor_of(settings, group).uri, col(Proposal.origin) == "")
        .order_by(col(Bid.created_at).desc(), col(Bid.id).desc())
    ).all()
    return sorted(((b, p) for b, p in rows), key=lambda pair: pair[0].state != bids.ACTIVE)


def agreements_of(settings: Settings, group: Group, *, session: Session) -> Sequence[Agreement]:
    """The group's agreements (it provides or receives the service), the most recent start first."""
    uri = actor_of(settings, group).uri
    return session.exec(
        select(Agreement)
        .where((col(Agreement.provider_uri) == uri) | (col(Agreement.requester_uri) == uri))
        .order_by(col(Agreement.starts_at).desc(), col(Agreement.id).desc())
    ).all()


def agreement_of(
    settings: Settings, group: Group, agreement_id: int, *, session: Session, lock: bool = False
) -> Agreement:
    row = session.get(Agreement, agreement_id, with_for_update=lock)
    uri = actor_of(settings, group).uri
    if row is None or uri not in (row.provider_uri, row.requester_uri):
        raise NotFound(MSG_NOT_OURS)
    return row


def confirm(
    settings: Settings, coordinator: User, group: Group, agreement_id: int, *, session: Session
) -> Agreement:
    """A coordinator confirms, for the group, that the service was done."""
    require_coordinator(group, coordinator, session=session)
    row = agreement_of(settings, group, agreement_id, session=session, lock=True)
    return agreements.confirm_completion(
        settings, coordinator, row, session=session, on_behalf_of=actor_of(settings, group)
    )


def cancel(
    settings: Settings, coordinator: User, group: Group, agreement_id: int, reason: str, *, session: Session
) -> Agreement:
    require_coordinator(group, coordinator, session=session)
    row = agreement_of(settings, group, agreement_id, session=session, lock=True)
    return agreements.cancel(
        settings, coordinator, row, reason, session=session, on_behalf_of=actor_of(settings, group)
    )


def dispute(
    settings: Settings, coordinator: User, group: Group, agreement_id: int, reason: str, *, session: Session
) -> Agreement:
    """A coordinator disputes, for the group, one of its agreements (a reason is required): the other
    party hears of it and the coordinators of the node holding the agreement settle it."""
    require_coordinator(group, coordinator, session=session)
    row = agreement_of(settings, group, agreement_id, session=session, lock=True)
    return agreements.dispute(
        settings, coordinator, row, reason, session=session, on_behalf_of=actor_of(settings, group)
    )


def actions(settings: Settings, group: Group, agreement: Agreement) -> list[str]:
    """What a coordinator may do now on one of the group's agreements, for the group: ``assign`` (the
    group provides it and it is open), ``confirm``, ``cancel``, ``dispute``, ``evaluate``."""
    uri = actor_of(settings, group).uri
    role = role_of(agreement, uri)
    found: list[str] = []
    if role is None:
        return found
    if role == "provider" and agreement.state in OPEN_STATES:
        found.append("assign")
    if agreements.may_confirm(agreement, role):
        found.append("confirm")
    if agreements.may_cancel(agreement):
        found.append("cancel")
    if agreements.may_dispute(agreement):
        found.append("dispute")
    if agreement.state == AgreementState.COMPLETED.value:
        found.append("evaluate")
    return found


def evaluate(
    settings: Settings,
    coordinator: User,
    group: Group,
    agreement_id: int,
    data: evaluations.EvaluationInput,
    *,
    session: Session,
) -> Evaluation:
    """A coordinator evaluates, for the group, the other party of a completed agreement."""
    require_coordinator(group, coordinator, session=session)
    row = agreement_of(settings, group, agreement_id, session=session)
    return evaluations.submit(
        settings, coordinator, row, data, session=session, on_behalf_of=actor_of(settings, group)
    )


# --- assignment --------------------------------------------------------------------------------------


def _window(agreement: Agreement) -> tuple[datetime, datetime] | None:
    if agreement.starts_at is None:
        return None
    hours = agreement.quantity_hours or Decimal("1")
    return agreement.starts_at, agreement.starts_at + timedelta(hours=float(hours))


def _busy(member_uri: str, window: tuple[datetime, datetime], *, session: Session) -> bool:
    """Whether ``member_uri`` carries out another open agreement that overlaps ``window``."""
    rows = session.exec(
        select(Agreement).where(
            col(Agreement.performer_uri) == member_uri, col(Agreement.state).in_(OPEN_STATES)
        )
    ).all()
    for other in rows:
        span = _window(other)
        if span is not None and span[0] < window[1] and window[0] < span[1]:
            return True
    return False


def candidates(group: Group, agreement: Agreement, *, session: Session) -> list[Member]:
    """The active members who may carry ``agreement`` out: those offering its category, else everyone."""
    active = list(records.members(group, session=session))
    offering = [m for m in active if agreement.category and agreement.category in records.json_list(m.offers)]
    return offering or active


def choose(group: Group, agreement: Agreement, rule: SharingRule, *, session: Session) -> Member:
    """The member ``rule`` picks for ``agreement`` (round robin: the one least recently assigned, never
    assigned first; first available: the first in order of joining who is free at that time)."""
    pool = candidates(group, agreement, session=session)
    if not pool:
        raise Conflict(MSG_NO_CANDIDATE)
    if rule is SharingRule.ROUND_ROBIN:
        last: dict[str, datetime] = {}
        for row in records.assignments_of(group, session=session):
            seen = last.get(row.member_uri)
            if seen is None or row.updated_at > seen:
                last[row.member_uri] = row.updated_at
        epoch = datetime.min.replace(tzinfo=utcnow().tzinfo)
        return min(pool, key=lambda m: (last.get(m.member_uri, epoch), m.id or 0))
    window = _window(agreement)
    for member in pool:
        if window is None or not _busy(member.member_uri, window, session=session):
            return member
    raise Conflict(MSG_NO_CANDIDATE)


def commitment_document(
    settings: Settings, group: Group, assignment: Assignment, agreement: Agreement
) -> dict[str, object]:
    """The group's ``Commitment`` naming the member who carries out ``agreement``."""
    actor = actor_of(settings, group)
    other = agreement.requester_uri if agreement.provider_uri == actor.uri else agreement.provider_uri
    data: dict[str, object] = {
        "type": "Commitment",
        "id": assignment.commitment_ap_id,
        "attributedTo": actor.uri,
        "action": "deliverService",
        "provider": assignment.member_uri,
        "receiver": other,
        "clauseOf": agreement.ap_id,
        "inScopeOf": actor.uri,
        "updated": assignment.updated_at.isoformat(),
    }
    if agreement.quantity_hours is not None:
        data["resourceQuantity"] = {
            "hasUnit": "hour",
            "hasNumericalValue": format_number(agreement.quantity_hours),
        }
    return data


def assign(
    settings: Settings,
    coordinator: User | None,
    group: Group,
    agreement_id: int,
    member_id: int | None = None,
    *,
    session: Session,
) -> Assignment:
    """Assign a member to one of the group's agreements (``member_id``: a coordinator's pick; None: by the
    group's rule), or replace the one assigned. ``coordinator`` None: the group's own rule, run by the
    worker."""
    if coordinator is not None:
        require_coordinator(group, coordinator, session=session)
    agreement = agreement_of(settings, group, agreement_id, session=session, lock=True)
    actor = actor_of(settings, group)
    if agreement.provider_uri != actor.uri:
        raise Conflict(MSG_NOT_PROVIDER)
    if agreement.state not in OPEN_STATES:
        raise Conflict(MSG_NOT_ASSIGNABLE)
    if member_id is not None:
        chosen = records.member(group, member_id, session=session)
        if chosen is None or chosen.state != "active":
            raise NotFound(N_("No such member."))
        rule = SharingRule.COORDINATOR
    else:
        rule = SharingRule(group.sharing_rule)
        if rule is SharingRule.COORDINATOR:
            raise ValidationFailed(MSG_MEMBER_REQUIRED, fields={"member": MSG_MEMBER_REQUIRED})
        chosen = choose(group, agreement, rule, session=session)
    now = utcnow()
    row = records.assignment_of(agreement.ap_id, session=session)
    replaced: str | None = None
    kind = "Create"
    if row is None:
        row = Assignment(
            group_id=group.pk,
            agreement_ap_id=agreement.ap_id,
            commitment_ap_id=settings.url(f"/groups/{group.name}/commitments/{uuid.uuid4()}"),
            member_uri=chosen.member_uri,
            rule=rule.value,
            assigned_by_uri=local.person(settings, coordinator).uri if coordinator else actor.uri,
            created_at=now,
            updated_at=now,
        )
    else:
        if row.member_uri == chosen.member_uri:
            return row
        replaced, kind = row.member_uri, "Update"
        row.replaced_uri = replaced
        row.member_uri = chosen.member_uri
        row.rule = rule.value
        row.assigned_by_uri = local.person(settings, coordinator).uri if coordinator else actor.uri
        row.updated_at = now
    session.add(row)
    agreement.performer_uri = chosen.member_uri
    session.add(agreement)
    session.flush()
    if is_holder(agreement):
        agreements.sync_holder(settings, agreement, session=session)
    other = agreement.requester_uri
    recipients = [uri for uri in dict.fromkeys((other, chosen.member_uri, replaced)) if uri]
    publish(
        settings,
        actor=actor,
        activity={
            "@context": CONTEXT,
            "type": kind,
            "object": commitment_document(settings, group, row, agreement),
            "to": recipients,
        },
        recipients=recipients,
        session=session,
    )
    if chosen.local_user_id is not None:
        notify(
            chosen.local_user_id,
            Kind.GROUP_ASSIGNED,
            object_uri=agreement.ap_id,
            actor_uri=actor.uri,
            data={"group": group.display_name, "href": f"/groups/{group.name}/calendar"},
            session=session,
        )
    return row


def assign_due(settings: Settings, *, session: Session) -> int:
    """Assign a member, by their group's rule, to the open agreements of groups that share work
    automatically and have no member yet; how many (for the periodic job)."""
    done = 0
    groups = session.exec(
        select(Group)
        .where(col(Group.state) == "active", col(Group.sharing_rule) != SharingRule.COORDINATOR.value)
        .order_by(col(Group.id))
    ).all()
    for group in groups:
        uri = actor_of(settings, group).uri
        waiting = session.exec(
            select(Agreement)
            .where(
                col(Agreement.provider_uri) == uri,
                col(Agreement.performer_uri).is_(None),
                col(Agreement.state).in_(OPEN_STATES),
            )
            .order_by(col(Agreement.id))  # the oldest first: members are taken in turn as they came
        ).all()
        for agreement in waiting:
            assert agreement.id is not None
            try:
                with session.begin_nested():
                    assign(settings, None, group, agreement.id, session=session)
                done += 1
            except Conflict:
                continue
    return done
