"""Inbox handlers for bids and agreements (see the Marketplace section of FEDERATION.md and
:mod:`node.market.agreements.documents` for the shapes).

- ``Offer(Agreement)`` answering one of our proposals: stored as a remote bid, its author notified;
  refused when the proposal is unknown, not ours, not open, past its deadline, already answered by
  the signer, or priced absurdly or in another currency.
- ``Undo`` of an ``Offer``: the bid is withdrawn, only when the signer made it.
- ``Accept`` of one of our bids: only from the proposal's author; the agreement's mirror is kept.
- ``Reject`` of one of our bids (only from the proposal's author), or of an agreement (a
  cancellation, only from a party); ``Flag`` of an agreement (a dispute, only from a party);
  ``Create(EconomicEvent)`` (a confirmation, only from a party).
- ``Update`` of an agreement we mirror (only from its holder) and the holder's ``Create`` of the
  receipt.
- ``Create``/``Update`` of a ``ContactPoint``: the other party shared contact details, fetched from
  its node and sealed here.

The ``Accept``, ``Reject``, ``Undo``, ``Create`` and ``Update`` types are shared with the social
graph, proposals and evaluations: these handlers return :attr:`Outcome.IGNORED` for activities about
anything else. The inbox may have replaced an embedded object of another origin by its id (an
agreement referred to by the other party's node): handlers look such ids up among what they hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from sqlmodel import select

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.inbox.processing import Outcome, PermanentFailure, ProcessingContext, handles
from node.core.errors import DomainError
from node.market import vocab
from node.market.agreements import contacts, sync
from node.market.agreements import documents as docs
from node.market.bids import service as bid_service
from node.market.models import Agreement, Bid, Proposal
from node.market.money import Currency

log = logging.getLogger("asasap.market")


class NotYetKnown(Exception):  # noqa: N818 - a reason to retry, raised to the inbox job
    """An event about an agreement whose ``Accept`` has not been processed yet: retried later."""


def _id(value: object) -> str | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _type_of(value: object) -> str | None:
    if isinstance(value, Mapping):
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    return None


def _currency(proposal: Proposal) -> Currency | None:
    return cast(Currency, proposal.price_currency) if proposal.price_currency in ("EUR", "HOUR") else None


def _refuse(ctx: ProcessingContext, reason: str) -> PermanentFailure:
    log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, reason)
    return PermanentFailure(reason)


def _our_bid(ctx: ProcessingContext, offer_id: str) -> Bid | None:
    """A bid one of our people placed, by the id of its ``Offer``."""
    bid = ctx.session.exec(select(Bid).where(Bid.ap_id == offer_id)).first()
    return bid if bid is not None and bid.local_bidder_id is not None else None


def _agreement(ctx: ProcessingContext, ap_id: str | None) -> Agreement | None:
    """The agreement ``ap_id`` we hold or mirror; :class:`NotYetKnown` for one of the signer's origin
    we have not stored yet (its ``Accept`` may still be on its way)."""
    if ap_id is None:
        return None
    found = sync.find_agreement(ap_id, lock=True, session=ctx.session)
    if found is None and not local.is_local(ctx.settings, ap_id):
        if addressing.origin(ap_id) == addressing.origin(ctx.actor_uri):
            raise NotYetKnown(f"{ap_id} is not known yet")
    return found


# --- bids ---------------------------------------------------------------------------------------------


@handles("Offer")
def on_offer(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """A bid on one of our proposals."""
    if vocab.classify_activity(activity) != "offer":
        return Outcome.IGNORED
    try:
        first = vocab.offer_from_json(activity)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable Offer: {exc}") from None
    proposal = ctx.session.exec(select(Proposal).where(Proposal.ap_id == first.agreement.proposal)).first()
    if proposal is None or proposal.origin != "":
        raise _refuse(ctx, f"no proposal of ours at {first.agreement.proposal}")
    offer = vocab.offer_from_json(activity, default_currency=_currency(proposal))
    if offer.actor != ctx.actor_uri:
        raise _refuse(ctx, "the Offer's actor is not its signer")
    if ctx.session.exec(select(Bid.id).where(Bid.ap_id == offer.id)).first() is not None:
        return Outcome.IGNORED
    try:
        bid_service.receive_bid(
            proposal, offer, received=ctx.row.received_at, raw=ctx.row.payload, session=ctx.session
        )
    except DomainError as exc:
        raise _refuse(ctx, f"bid on {proposal.ap_id} refused: {exc.message}") from None
    return Outcome.DONE


@handles("Undo")
def on_undo(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """A bidder withdraws a bid on one of our proposals (the ``Offer`` embedded, or only its id when
    the inbox did not trust an embedded copy of another origin)."""
    undone = activity.get("object")
    if isinstance(undone, Mapping) and _type_of(undone) != "Offer":
        return Outcome.IGNORED  # a Follow's undoing, or not ours
    offer_id = _id(undone)
    bid = ctx.session.exec(select(Bid).where(Bid.ap_id == offer_id)).first() if offer_id else None
    if bid is None:
        return Outcome.IGNORED
    try:
        changed = bid_service.receive_withdrawal(bid, ctx.actor_uri, session=ctx.session)
    except DomainError:
        raise _refuse(ctx, f"{ctx.actor_uri} did not make the bid {bid.ap_id}") from None
    return Outcome.DONE if changed else Outcome.IGNORED


@handles("Accept")
def on_accept(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """The author of a proposal accepted one of our bids: keep the agreement's mirror."""
    offer_id = _id(activity.get("object"))
    bid = _our_bid(ctx, offer_id) if offer_id else None
    if bid is None:
        return Outcome.IGNORED  # a Follow's acceptance, or not ours
    proposal = bid_service.proposal_of(bid, session=ctx.session)
    if ctx.actor_uri != proposal.author_uri:
        raise _refuse(ctx, f"only {proposal.author_uri} may accept bids on {proposal.ap_id}")
    result = activity.get("result")
    if not isinstance(result, Mapping):
        raise _refuse(ctx, "an Accept of a bid must carry the agreement of its author's origin")
    try:
        snapshot = docs.read_agreement(result, default_currency=_currency(proposal))
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable agreement: {exc}") from None
    if snapshot.author not in (None, ctx.actor_uri) or addressing.origin(snapshot.id) != addressing.origin(
        ctx.actor_uri
    ):
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


def _with_agreement_object(activity: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    """A ``Reject``/``Flag`` with its object as the embedded reference the vocabulary reads (the inbox
    keeps only the id of an agreement of another origin than the signer's)."""
    if activity.get("type") not in ("Reject", "Flag"):
        return activity
    return {**activity, "object": {"type": "Agreement", "id": agreement.ap_id}}


def _agreement_event(ctx: ProcessingContext, activity: dict[str, Any], agreement: Agreement) -> Outcome:
    try:
        event = vocab.agreement_event_from_json(_with_agreement_object(activity, agreement))
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable agreement event: {exc}") from None
    if event.actor != ctx.actor_uri:
        raise _refuse(ctx, "the event's actor is not its signer")
    try:
        changed = sync.apply_event(
            ctx.settings, agreement, event, received=ctx.row.received_at, session=ctx.session
        )
    except sync.Refused as exc:
        raise _refuse(ctx, str(exc)) from None
    return Outcome.DONE if changed else Outcome.IGNORED


@handles("Reject")
def on_reject(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """A decline of one of our bids, or the cancellation of an agreement."""
    target = _id(activity.get("object"))
    if target is None:
        return Outcome.IGNORED
    bid = _our_bid(ctx, target)
    if bid is not None:
        try:
            reason = vocab.reject_from_json(activity).reason
            changed = bid_service.receive_rejection(bid, ctx.actor_uri, reason, session=ctx.session)
        except vocab.VocabError as exc:
            raise _refuse(ctx, f"unreadable Reject: {exc}") from None
        except DomainError:
            raise _refuse(ctx, f"{ctx.actor_uri} is not the author of the proposal of {bid.ap_id}") from None
        return Outcome.DONE if changed else Outcome.IGNORED
    agreement = _agreement(ctx, target)
    if agreement is None:
        return Outcome.IGNORED  # a Follow's refusal, or not ours
    return _agreement_event(ctx, activity, agreement)


@handles("Flag")
def on_flag(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """A party disputes an agreement."""
    agreement = _agreement(ctx, _id(activity.get("object")))
    if agreement is None:
        return Outcome.IGNORED  # a report about something else
    return _agreement_event(ctx, activity, agreement)


# --- agreement documents, receipts, contact details ---------------------------------------------------


def _on_contact(ctx: ProcessingContext, obj: Mapping[str, Any]) -> Outcome:
    contact_id = _id(obj)
    agreement = _agreement(ctx, _id(obj.get("context")))
    if contact_id is None or agreement is None:
        return Outcome.IGNORED
    if addressing.origin(contact_id) != addressing.origin(ctx.actor_uri):
        raise _refuse(ctx, "a contact of another origin than its signer's")
    document = ctx.document(contact_id)
    try:
        party, agreement_id, details = docs.read_contact(document, expected_id=contact_id)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable contact: {exc}") from None
    if party != ctx.actor_uri or agreement_id != agreement.ap_id:
        raise _refuse(ctx, "the contact is not the signer's for this agreement")
    try:
        contacts.store_remote_contact(ctx.settings, agreement, party, details, session=ctx.session)
    except contacts.NotAParty as exc:
        raise _refuse(ctx, str(exc)) from None
    return Outcome.DONE


def _on_confirmation(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    obj = activity.get("object")
    reference = _id(obj.get("context")) if isinstance(obj, Mapping) else None
    if reference is None and isinstance(obj, Mapping):
        reference = (_id(obj.get("fulfills")) or "").split("#", 1)[0] or None
    agreement = _agreement(ctx, reference)
    if agreement is None:
        return Outcome.IGNORED
    return _agreement_event(ctx, activity, agreement)


def _on_receipt(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    try:
        receipt = vocab.receipt_from_json(activity)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable receipt: {exc}") from None
    agreement = _agreement(ctx, receipt.agreement)
    if agreement is None:
        return Outcome.IGNORED
    try:
        sync.record_receipt(agreement, receipt, session=ctx.session)
    except sync.Refused as exc:
        raise _refuse(ctx, str(exc)) from None
    return Outcome.DONE


@handles("Create")
def on_create(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """A confirmation of completion, a receipt, or contact details."""
    kind = vocab.classify_activity(activity)
    if kind == "confirm":
        return _on_confirmation(ctx, activity)
    if kind == "receipt":
        return _on_receipt(ctx, activity)
    obj = activity.get("object")
    if docs.is_contact_notice(obj):
        assert isinstance(obj, Mapping)
        return _on_contact(ctx, obj)
    return Outcome.IGNORED


@handles("Update")
def on_update(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """The holder's new state of an agreement we mirror, or changed contact details."""
    obj = activity.get("object")
    if docs.is_contact_notice(obj):
        assert isinstance(obj, Mapping)
        return _on_contact(ctx, obj)
    if _type_of(obj) != "Agreement":
        return Outcome.IGNORED
    agreement = _agreement(ctx, _id(obj))
    if agreement is None:
        return Outcome.IGNORED
    try:
        snapshot = docs.read_agreement(obj)
    except vocab.VocabError as exc:
        raise _refuse(ctx, f"unreadable agreement: {exc}") from None
    try:
        changed = sync.follow_holder(
            ctx.settings, agreement, snapshot, signer=ctx.actor_uri, session=ctx.session
        )
    except sync.Refused as exc:
        raise _refuse(ctx, str(exc)) from None
    return Outcome.DONE if changed else Outcome.IGNORED
