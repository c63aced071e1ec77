"""What the other party's node tells us about an agreement, applied here; and what we serve it.

- On the bidder's node, ``Accept`` of one of our bids creates the *mirror* of the agreement
  (:func:`store_mirror`), whose state then follows the holder's ``Update`` activities
  (:func:`follow_holder`): the holder is authoritative, and an update is applied only when it is
  newer than the last one applied and reachable along the declared lifecycle.
- On either node, the other party's confirmation, cancellation or dispute (:func:`apply_event`) is
  recorded; the holder also moves the state on and answers with its ``Update``. An event the holder's
  state no longer allows (the parties acted at the same moment) changes nothing but is answered with
  an ``Update``, so the mirror realigns.
- :func:`agreement_document_for` decides what a signed request from another node may read of an
  agreement held here.

Functions raise :class:`Refused` for input that can never be applied (the handler fails the row).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlmodel import Session, select

from node.activitypub import addressing
from node.activitypub.actors import local
from node.core.errors import ValidationFailed
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market import vocab
from node.market.agreements import documents as docs
from node.market.agreements import parties
from node.market.agreements import service as svc
from node.market.agreements.parties import EventKind
from node.market.bids import service as bid_service
from node.market.lifecycles import AGREEMENT_LIFECYCLE, AgreementState, BidState, cancellation_is_late
from node.market.models import Agreement, Bid, Proposal
from node.market.money import check_hours, check_price
from node.market.notifications import Kind, notify
from node.market.schedule import first_window
from node.settings import Settings

log = logging.getLogger("asasap.market")

# How far back the published time of a received event may go (the signature's clock window).
CLOCK_SKEW = timedelta(hours=1)


_EVENT_KINDS = {"confirm": EventKind.CONFIRMED, "cancel": EventKind.CANCELLED, "dispute": EventKind.DISPUTED}


class Refused(Exception):
    """Remote input that can never be applied: not a party, not the holder, inconsistent terms."""


def event_time(published: datetime | None, received: datetime) -> datetime:
    """When a received event happened: its ``published``, kept within the hour before its reception
    (a sender cannot date a cancellation back to make it look early, nor into the future)."""
    if published is None:
        return received
    return min(max(published, received - CLOCK_SKEW), received)


def find_agreement(ap_id: str, *, session: Session, lock: bool = False) -> Agreement | None:
    """The agreement ``ap_id`` held or mirrored here; ``lock`` holds its row (before changing it)."""
    query = select(Agreement).where(Agreement.ap_id == ap_id)
    return session.exec(query.with_for_update() if lock else query).first()


# --- the mirror -------------------------------------------------------------------------------------


def store_mirror(
    settings: Settings,
    bid: Bid,
    proposal: Proposal,
    snapshot: docs.AgreementSnapshot,
    *,
    session: Session,
    signer: str,
    activity_id: str,
    at: datetime,
) -> Agreement:
    """Keep the agreement ``signer`` (the proposal's author) made by accepting our ``bid``."""
    existing = find_agreement(snapshot.id, session=session)
    if existing is not None:
        if existing.bid_id != bid.id:
            raise Refused(f"{snapshot.id} already belongs to another bid")
        return existing
    demand = proposal.purpose == "request"
    provider, requester = (bid.bidder_uri, signer) if demand else (signer, bid.bidder_uri)
    if (snapshot.provider, snapshot.receiver) not in ((None, None), (provider, requester)):
        raise Refused("the agreement's parties are not the bidder and the proposal's author")
    terms = snapshot.terms
    try:
        if terms.price is not None:
            check_price(terms.price)
        if terms.quantity is not None:
            check_hours(terms.quantity)
    except ValidationFailed as exc:
        raise Refused(f"absurd terms: {exc.fields}") from None
    window = first_window(terms.schedule) if terms.schedule is not None else None
    agreement = Agreement(
        ap_id=snapshot.id,
        origin=addressing.domain_of(signer),
        proposal_id=proposal.id,
        proposal_ap_id=proposal.ap_id,
        bid_id=bid.id,
        offer_ap_id=bid.ap_id,
        provider_uri=provider,
        requester_uri=requester,
        local_provider_id=bid.local_bidder_id if demand else None,
        local_requester_id=None if demand else bid.local_bidder_id,
        category=proposal.category,
        price_amount=terms.price.amount if terms.price else None,
        price_currency=terms.price.currency if terms.price else None,
        price_basis=terms.price.basis if terms.price else None,
        quantity_hours=terms.quantity,
        schedule=json.dumps(sched.to_json(terms.schedule)) if terms.schedule else None,
        starts_at=window.start if window is not None else proposal.starts_at,
        state=AgreementState.ACCEPTED.value,
        created_at=at,
        updated_at=at,
    )
    session.add(agreement)
    session.flush()
    agreement.raw = json.dumps({**_raw_of(snapshot), "attributedTo": signer}, ensure_ascii=False)
    parties.record_event(agreement, EventKind.ACCEPTED, signer, at, activity_id=activity_id, session=session)
    session.refresh(bid, with_for_update=True)
    if bid.state == BidState.ACTIVE.value:
        bid_service.move(bid, BidState.ACCEPTED, at)
        session.add(bid)
    else:
        log.warning("agreement %s accepts bid %s, which is %s", snapshot.id, bid.ap_id, bid.state)
    if bid.local_bidder_id is not None:
        notify(
            bid.local_bidder_id,
            Kind.BID_ACCEPTED,
            object_uri=proposal.ap_id,
            actor_uri=signer,
            data={
                "title": proposal.title,
                "agreement": agreement.id,
                "href": f"/me/agreements/{agreement.id}",
            },
            session=session,
        )
    if snapshot.state is not AgreementState.ACCEPTED:
        follow_holder(settings, agreement, snapshot, signer=signer, session=session)
    return agreement


def _raw_of(snapshot: docs.AgreementSnapshot) -> dict[str, object]:
    """What the mirror keeps of the holder's document: enough to order updates and name the author."""
    data: dict[str, object] = {"id": snapshot.id, "agreementState": snapshot.state.value}
    if snapshot.updated is not None:
        data["updated"] = sched.format_instant(snapshot.updated)
    return data


def _last_update(agreement: Agreement) -> datetime | None:
    try:
        value = json.loads(agreement.raw or "{}").get("updated")
        return sched.parse_instant(value) if value else None
    except (ValueError, AttributeError):
        return None


def _path(current: AgreementState, target: AgreementState) -> list[AgreementState] | None:
    """The states from ``current`` (excluded) to ``target`` along declared edges, shortest first."""
    frontier: list[list[AgreementState]] = [[current]]
    seen = {current}
    while frontier:
        route = frontier.pop(0)
        if route[-1] is target:
            return route[1:]
        for source, nxt in AGREEMENT_LIFECYCLE.edges():
            if source is route[-1] and nxt not in seen:
                seen.add(nxt)
                frontier.append([*route, nxt])
    return None


def follow_holder(
    settings: Settings,
    agreement: Agreement,
    snapshot: docs.AgreementSnapshot,
    *,
    session: Session,
    signer: str,
) -> bool:
    """Apply the holder's view of the agreement to our mirror; False when it was stale."""
    if parties.is_holder(agreement):
        raise Refused("this node holds the agreement")
    if signer != parties.author_of(agreement) or addressing.domain_of(signer) != agreement.origin:
        raise Refused(f"{signer} does not hold {agreement.ap_id}")
    last = _last_update(agreement)
    if last is not None and snapshot.updated is not None and snapshot.updated < last:
        log.info("stale update of %s ignored", agreement.ap_id)
        return False
    current, target = AgreementState(agreement.state), snapshot.state
    if target is not current:
        path = _path(current, target)
        if path is None:
            raise Refused(f"{agreement.ap_id}: {current} → {target} is not reachable")
        for step in path:
            AGREEMENT_LIFECYCLE.check(current, step)
            current = step
    at = snapshot.updated or utcnow()
    agreement.performer_uri = snapshot.performer or agreement.performer_uri
    agreement.provider_confirmed_at = snapshot.confirmed_by_provider or agreement.provider_confirmed_at
    agreement.requester_confirmed_at = snapshot.confirmed_by_receiver or agreement.requester_confirmed_at
    before = AgreementState(agreement.state)
    if target is not before:
        if before is AgreementState.DISPUTED:  # the holder's coordinators settled it
            parties.record_event(agreement, EventKind.SETTLED, signer, at, session=session)
        if target is AgreementState.COMPLETED:
            svc.complete(settings, agreement, at, None, session=session)
        else:
            agreement.state = target.value
        if target is AgreementState.CANCELLED:
            agreement.cancelled_at = at
            agreement.late_cancellation = snapshot.late_cancellation
            if before is AgreementState.DISPUTED:
                parties.notify_parties(agreement, Kind.AGREEMENT_CANCELLED, actor_uri=signer, session=session)
        if target is AgreementState.DISPUTED and agreement.disputed_at is None:
            agreement.disputed_at = at
    agreement.raw = json.dumps({**_raw_of(snapshot), "attributedTo": signer}, ensure_ascii=False)
    agreement.updated_at = utcnow()
    session.add(agreement)
    return True


def record_receipt(agreement: Agreement, receipt: vocab.Receipt, *, session: Session) -> None:
    """The holder's completion receipt for our mirror."""
    if parties.is_holder(agreement) or receipt.actor != parties.author_of(agreement):
        raise Refused(f"{receipt.actor} does not hold {agreement.ap_id}")
    agreement.receipt_ap_id = receipt.id
    session.add(agreement)


# --- events of the other party ------------------------------------------------------------------------


def _check_party(settings: Settings, agreement: Agreement, signer: str) -> parties.PartyRole:
    role = parties.role_of(agreement, signer)
    if role is None or local.is_local(settings, signer):
        raise Refused(f"{signer} is not the remote party of {agreement.ap_id}")
    return role


def apply_event(
    settings: Settings,
    agreement: Agreement,
    event: vocab.AgreementEvent,
    *,
    session: Session,
    received: datetime,
) -> bool:
    """The other party confirmed, cancelled or disputed; False when it changed nothing."""
    role = _check_party(settings, agreement, event.actor)
    at = event_time(event.published, received)
    holder = parties.is_holder(agreement)
    if holder:
        allowed = {
            "confirm": svc.may_confirm(agreement, role),
            "cancel": svc.may_cancel(agreement),
            "dispute": svc.may_dispute(agreement),
        }[event.kind]
    else:  # the mirror records what the holder's party did, once; its state comes with the update
        allowed = not parties.has_event(agreement, _EVENT_KINDS[event.kind], event.actor, session=session)
    if allowed:
        if event.kind == "confirm":
            svc.record_confirmation(settings, agreement, event.actor, at, event.id, session=session)
        elif event.kind == "cancel":
            # The holder checks the sender's word against the start and the time received.
            late = agreement.starts_at is not None and cancellation_is_late(agreement.starts_at, at)
            svc.record_cancellation(
                settings,
                agreement,
                event.actor,
                at,
                late=late if holder else event.late,
                reason=event.reason,
                activity_id=event.id,
                session=session,
            )
        else:
            svc.record_dispute(
                settings,
                agreement,
                event.actor,
                at,
                reason=event.reason or "–",
                activity_id=event.id,
                session=session,
            )
        return True
    log.info(
        "%s of %s by %s no longer applies (%s)", event.kind, agreement.ap_id, event.actor, agreement.state
    )
    if holder:
        svc.sync_holder(settings, agreement, session=session)
    return False


# --- serving to other nodes ---------------------------------------------------------------------------


def _origin_of_party(agreement: Agreement, requester: str) -> bool:
    return addressing.origin(requester) in (
        addressing.origin(agreement.provider_uri),
        addressing.origin(agreement.requester_uri),
    )


def agreement_document_for(
    settings: Settings, ap_id: str, requester: str, *, session: Session
) -> dict[str, object] | None:
    """The agreement held here at ``ap_id`` as ``requester`` (a verified key owner) may read it: all of
    it for a party's node, the public part of a completed agreement for other nodes, else None."""
    agreement = find_agreement(ap_id, session=session)
    if agreement is None or not parties.is_holder(agreement) or local.is_local(settings, requester):
        return None
    if _origin_of_party(agreement, requester):
        return svc.holder_document(agreement)
    if agreement.state == AgreementState.COMPLETED.value:
        return docs.agreement_document(agreement, author_uri=parties.author_of(agreement), full=False)
    return None
