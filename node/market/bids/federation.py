"""Bids received from other nodes, and the answers to the bids our people placed (see the Marketplace
section of FEDERATION.md and :mod:`node.market.agreements.documents` for the shapes).

- ``offer``: ``Offer(Agreement)`` answering one of our proposals: stored as a remote bid, its author
  notified; refused when the proposal is unknown or not ours; answered with a ``Reject`` carrying the
  reason in French and English (:mod:`node.market.bids.refusals`) when it is not open, past its
  deadline, already answered by the signer, or priced absurdly or in an asset we do not handle (time
  counted in seconds or minutes is converted to hours).
- ``withdraw``: ``Undo`` of an ``Offer`` (embedded, or only its id when the inbox did not trust an
  embedded copy of another origin): the bid is withdrawn, only when the signer made it.
- ``accept``: ``Accept`` of one of our bids, only from the proposal's author: the agreement it carries
  (``result``) becomes the mirror of the agreement here.
- ``reject``: ``Reject`` of one of our bids, only from the proposal's author; the ``Reject`` of an
  agreement whose embedded copy the inbox replaced by its id is a cancellation
  (:func:`node.market.agreements.federation.on_cancel`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

from node.activitypub.addressing import origin
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.vocab import Activity
from node.core.errors import DomainError
from node.market import vocab
from node.market.agreements import documents as docs
from node.market.agreements import sync
from node.market.bids import incoming, refusals
from node.market.bids import service as bid_service
from node.market.models import Bid, Proposal
from node.market.money import Currency
from node.market.proposals.records import get_by_ap_id

log = logging.getLogger("asasap.market")


def _currency(proposal: Proposal) -> Currency | None:
    return cast(Currency, proposal.price_currency) if proposal.price_currency in ("EUR", "HOUR") else None


def _refuse(ctx: ProcessingContext, reason: str) -> PermanentFailure:
    log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, reason)
    return PermanentFailure(reason)


def our_bid(ctx: ProcessingContext, offer_id: str | None) -> Bid | None:
    """A bid placed on this node (by one of our people or groups), by the id of its ``Offer``."""
    if offer_id is None:
        return None
    bid = bid_service.bid_by_ap_id(offer_id, session=ctx.session)
    return bid if bid is not None and bid.origin == "" else None


def on_offer(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A bid on one of our proposals. One we cannot take (priced in an asset we do not handle, out of
    bounds, on a closed proposal...) is answered with a ``Reject`` giving the reason, and the row is
    done: the bidder's server learns why, rather than nothing."""
    try:
        target = vocab.offered_proposal(activity.raw)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable Offer: {exc}") from None
    proposal = get_by_ap_id(target, session=ctx.session)
    if proposal is None or proposal.origin != "":
        raise _refuse(ctx, f"no proposal of ours at {target}")
    if activity.actor != ctx.actor_uri:
        raise _refuse(ctx, "the Offer's actor is not its signer")
    if bid_service.bid_by_ap_id(activity.id, session=ctx.session) is not None:
        return Outcome.IGNORED
    try:
        offer = vocab.offer_from_json(activity.raw, default_currency=_currency(proposal))
        incoming.receive_bid(
            proposal, offer, received=ctx.row.received_at, raw=ctx.row.payload, session=ctx.session
        )
    except vocab.UnsupportedPayment as exc:
        log.info("offer %s priced in what we do not handle: %s", activity.id, exc)
        refusals.refuse_offer(
            ctx.settings,
            proposal,
            activity.id,
            ctx.actor_uri,
            refusals.MSG_PAYMENT_UNSUPPORTED,
            session=ctx.session,
        )
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable Offer: {exc}") from None
    except DomainError as exc:
        refusals.refuse_offer(
            ctx.settings, proposal, activity.id, ctx.actor_uri, exc.message, session=ctx.session
        )
    return Outcome.DONE


def on_withdraw(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A bidder withdraws a bid on one of our proposals."""
    offer_id = activity.object_id
    bid = bid_service.bid_by_ap_id(offer_id, session=ctx.session) if offer_id else None
    if bid is None:
        return Outcome.IGNORED
    try:
        changed = incoming.receive_withdrawal(bid, ctx.actor_uri, session=ctx.session)
    except DomainError:
        raise _refuse(ctx, f"{ctx.actor_uri} did not make the bid {bid.ap_id}") from None
    return Outcome.DONE if changed else Outcome.IGNORED


def on_accept(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The author of a proposal accepted one of our bids: keep the agreement's mirror."""
    bid = our_bid(ctx, activity.object_id)
    if bid is None:
        return Outcome.IGNORED  # not ours
    proposal = bid_service.proposal_of(bid, session=ctx.session)
    if ctx.actor_uri != proposal.author_uri:
        raise _refuse(ctx, f"only {proposal.author_uri} may accept bids on {proposal.ap_id}")
    result = activity.raw.get("result")
    if not isinstance(result, Mapping):
        raise _refuse(ctx, "an Accept of a bid must carry the agreement of its author's origin")
    try:
        snapshot = docs.read_agreement(result, default_currency=_currency(proposal))
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable agreement: {exc}") from None
    if snapshot.author not in (None, ctx.actor_uri) or origin(snapshot.id) != origin(ctx.actor_uri):
        raise _refuse(ctx, "the agreement is not its signer's")
    if snapshot.terms.primary_intent != bid_service.intent_ids(proposal)[0]:
        raise _refuse(ctx, "the agreement does not satisfy the proposal of the bid")
    try:
        sync.store_mirror(
            ctx.settings,
            bid,
            proposal,
            snapshot,
            signer=ctx.actor_uri,
            activity_id=ctx.row.activity_id,
            at=ctx.row.received_at,
            session=ctx.session,
        )
    except sync.Refused as exc:
        raise _refuse(ctx, str(exc)) from None
    return Outcome.DONE


def on_reject(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A decline of one of our bids."""
    bid = our_bid(ctx, activity.object_id)
    if bid is None:
        return Outcome.IGNORED
    try:
        reason = vocab.reject_from_json(activity.raw).reason
        changed = incoming.receive_rejection(bid, ctx.actor_uri, reason, session=ctx.session)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable Reject: {exc}") from None
    except DomainError:
        raise _refuse(ctx, f"{ctx.actor_uri} is not the author of the proposal of {bid.ap_id}") from None
    return Outcome.DONE if changed else Outcome.IGNORED
