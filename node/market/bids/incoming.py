"""Bids from other nodes: an answer to one of our proposals placed, or withdrawn, by a person elsewhere,
and the refusal of one of our people's answers by a proposal's author elsewhere. The same rules as for
bids placed here (:mod:`node.market.bids.service`), read from the verified activity."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session

from node.activitypub import addressing
from node.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market import vocab
from node.market.bids.service import (
    ACTIVE,
    MESSAGE_MAX,
    MSG_ALREADY_ANSWERED,
    MSG_DEADLINE_PASSED,
    MSG_FREE_SERVICE,
    MSG_NO_SUCH_BID,
    MSG_NO_SUCH_PROPOSAL,
    MSG_NOT_OPEN,
    MSG_OWN_PROPOSAL,
    REASON_MAX,
    active_bid,
    check_not_blocked,
    insert,
    intent_ids,
    move,
    notify_author,
    notify_bidder,
    proposal_of,
)
from node.market.lifecycles import BidState, ProposalState, accepts_bids
from node.market.models import Bid, Proposal
from node.market.money import check_hours, check_price, check_total
from node.market.notifications import Kind


def receive_bid(
    proposal: Proposal, offer: vocab.BidOffer, *, session: Session, received: datetime, raw: str
) -> Bid:
    """Store a bid that ``offer.actor`` (the verified signer) sent to one of our proposals, under the
    same rules as a bid placed here; a :class:`~node.core.errors.DomainError` says why it is refused."""
    if proposal.origin != "":
        raise NotFound(MSG_NO_SUCH_PROPOSAL)
    if offer.actor == proposal.author_uri:
        raise PermissionDenied(MSG_OWN_PROPOSAL)
    check_not_blocked(proposal, offer.actor, session=session)
    if proposal.state != ProposalState.OPEN.value:
        raise Conflict(MSG_NOT_OPEN)
    if not accepts_bids(proposal.state, proposal.bidding_deadline, received):
        raise Conflict(MSG_DEADLINE_PASSED)
    assert proposal.id is not None
    if active_bid(proposal.id, offer.actor, session=session) is not None:
        raise Conflict(MSG_ALREADY_ANSWERED)
    terms = offer.agreement
    primary, reciprocal = intent_ids(proposal)
    if terms.primary_intent != primary or terms.reciprocal_intent not in (None, reciprocal):
        raise ValidationFailed(MSG_NO_SUCH_PROPOSAL, fields={"satisfies": MSG_NO_SUCH_PROPOSAL})
    price = terms.price
    if price is not None and price.currency != proposal.price_currency:
        raise ValidationFailed(MSG_FREE_SERVICE, fields={"amount": MSG_FREE_SERVICE})
    if price is not None:
        check_price(price, field="amount")
        if terms.quantity is not None:
            check_total(price, terms.quantity, field="amount")
    if terms.quantity is not None:
        check_hours(terms.quantity, field="hours")
    bid = Bid(
        ap_id=offer.id,
        proposal_id=proposal.id,
        bidder_uri=offer.actor,
        local_bidder_id=None,
        origin=addressing.domain_of(offer.actor),
        price_amount=price.amount if price else None,
        price_currency=price.currency if price else None,
        price_basis=price.basis if price else None,
        quantity_hours=terms.quantity,
        schedule=json.dumps(sched.to_json(terms.schedule)) if terms.schedule else None,
        message=terms.message[:MESSAGE_MAX],
        state=ACTIVE,
        raw=raw,
        created_at=received,
        updated_at=received,
    )
    insert(bid, session=session)
    notify_author(proposal, Kind.BID_RECEIVED, bid, session=session)
    return bid


def receive_withdrawal(bid: Bid, signer: str, *, session: Session) -> bool:
    """The bidder ``signer`` withdrew ``bid`` (one of ours to decide); False when already decided."""
    if bid.bidder_uri != signer or bid.origin == "":
        raise PermissionDenied(MSG_NO_SUCH_BID)
    session.refresh(bid, with_for_update=True)
    if bid.state != ACTIVE:
        return False
    move(bid, BidState.WITHDRAWN, utcnow())
    session.add(bid)
    notify_author(proposal_of(bid, session=session), Kind.BID_WITHDRAWN, bid, session=session)
    return True


def receive_rejection(bid: Bid, signer: str, reason: str, *, session: Session) -> bool:
    """The proposal's author ``signer`` declined our ``bid``; False when it was no longer active."""
    proposal = proposal_of(bid, session=session)
    if bid.origin != "" or signer != proposal.author_uri:
        raise PermissionDenied(MSG_NO_SUCH_BID)
    session.refresh(bid, with_for_update=True)
    if bid.state != ACTIVE:
        return False
    move(bid, BidState.REJECTED, utcnow())
    bid.reject_reason = reason[:REASON_MAX]
    session.add(bid)
    notify_bidder(proposal, Kind.BID_REJECTED, bid, reason=bid.reject_reason, session=session)
    return True
