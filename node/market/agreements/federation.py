"""Agreements on the wire, received (see the Marketplace section of FEDERATION.md and
:mod:`node.market.agreements.documents` for the shapes). Each event is accepted only from a party:

- ``cancel``: ``Reject`` of an agreement; ``dispute``: ``Flag`` of an agreement; ``confirm``:
  ``Create(EconomicEvent)`` fulfilling it;
- ``agreement-update``: ``Update`` of an agreement we mirror, only from its holder, and ``receipt``: the
  holder's ``Create`` of the receipt;
- ``contact``: ``Create``/``Update`` of a ``ContactPoint``: the other party shared contact details,
  fetched from its node and sealed here.

The inbox may have replaced an embedded object of another origin by its id (an agreement referred to
by the other party's node): handlers look such ids up among what they hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.addressing import id_of, types_of
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.vocab import Activity
from node.market import vocab
from node.market.agreements import contacts, sync
from node.market.agreements import documents as docs
from node.market.models import Agreement

log = logging.getLogger("asasap.market")


class NotYetKnown(Exception):  # noqa: N818 - a reason to retry, raised to the inbox job
    """An event about an agreement whose ``Accept`` has not been processed yet: retried later."""


def _refuse(ctx: ProcessingContext, reason: str) -> PermanentFailure:
    log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, reason)
    return PermanentFailure(reason)


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


def _with_agreement_object(activity: Activity, agreement: Agreement) -> Mapping[str, Any]:
    """A ``Reject``/``Flag`` with its object as the embedded reference the vocabulary reads (the inbox
    keeps only the id of an agreement of another origin than the signer's)."""
    if activity.type not in ("Reject", "Flag"):
        return activity.raw
    return {**activity.raw, "object": {"type": "Agreement", "id": agreement.ap_id}}


def _agreement_event(ctx: ProcessingContext, activity: Activity, agreement: Agreement) -> Outcome:
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


def on_cancel(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A party cancels an agreement (``Reject`` of it)."""
    agreement = _agreement(ctx, activity.object_id)
    if agreement is None:
        return Outcome.IGNORED  # not an agreement of ours
    return _agreement_event(ctx, activity, agreement)


def on_dispute(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A party disputes an agreement (``Flag`` of it)."""
    agreement = _agreement(ctx, activity.object_id)
    if agreement is None:
        return Outcome.IGNORED  # a report about something else
    return _agreement_event(ctx, activity, agreement)


def on_confirmation(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """A party confirms the service was done (``Create(EconomicEvent)``)."""
    obj = activity.object or {}
    reference = id_of(obj.get("context")) or (id_of(obj.get("fulfills")) or "").split("#", 1)[0] or None
    agreement = _agreement(ctx, reference)
    if agreement is None:
        return Outcome.IGNORED
    return _agreement_event(ctx, activity, agreement)


def on_receipt(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The holder issued the receipt of a completed agreement."""
    try:
        receipt = vocab.receipt_from_json(activity.raw)
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


def on_contact(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The other party shared (or changed) contact details: fetch them from its node, seal them here."""
    obj = activity.object or {}
    contact_id = activity.object_id
    agreement = _agreement(ctx, id_of(obj.get("context")))
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


def on_agreement_update(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The holder's new state of an agreement we mirror."""
    obj = activity.object
    if obj is None or "Agreement" not in types_of(obj):
        return Outcome.IGNORED
    agreement = _agreement(ctx, activity.object_id)
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
