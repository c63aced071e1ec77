"""What the time bank does with incoming activities, contributed to the node's dispatcher by
:func:`inbox_handlers` (before the marketplace, whose classifier would read an ``Accept`` or ``Reject``
of an id as a bid's):

- ``transfer-offer``: ``Offer`` of a time-token ``EconomicEvent`` by the payer's node, decided by
  :func:`node.timebank.exchange.receive` and answered in the same transaction;
- ``transfer-answer``: ``Accept``/``Reject`` of one of our transfer offers (an id under
  ``/timebank/offers/``), by the payee's node.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from node.activitypub.actors import local
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.vocab import Activity
from node.market.vocab.common import VocabError
from node.timebank import exchange, vocab

log = logging.getLogger("asasap.timebank")

TRANSFER_OFFER = "transfer-offer"
TRANSFER_ANSWER = "transfer-answer"
TYPES = frozenset({"Offer", "Accept", "Reject"})


def _our_offer(ctx: ProcessingContext, object_id: str | None) -> bool:
    return (
        object_id is not None
        and local.is_local(ctx.settings, object_id)
        and urlsplit(object_id).path.startswith("/timebank/offers/")
    )


def classify(ctx: ProcessingContext, activity: Activity) -> str | None:
    """The time bank's kind of ``activity``, or None when it is not about a transfer."""
    if activity.type == "Offer":
        return TRANSFER_OFFER if vocab.is_transfer_event(activity.object) else None
    answer = activity.type in ("Accept", "Reject") and activity.object is None
    if answer and _our_offer(ctx, activity.object_id):
        return TRANSFER_ANSWER
    return None


def _refuse(ctx: ProcessingContext, reason: str) -> PermanentFailure:
    log.info("refused %s from %s: %s", ctx.row.activity_id, ctx.actor_uri, reason)
    return PermanentFailure(reason)


def on_offer(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """Another node offers a transfer to one of our people: decide once, answer."""
    try:
        offer = vocab.offer_from_json(activity.raw)
    except VocabError as exc:
        raise _refuse(ctx, f"unreadable transfer: {exc}") from None
    if offer.actor != ctx.actor_uri:
        raise _refuse(ctx, "the offer's actor is not its signer")
    try:
        answer = exchange.receive(ctx.session, ctx.settings, offer, ctx.actor_uri)
    except exchange.NotThePayersNode as exc:
        raise _refuse(ctx, str(exc)) from None
    if answer is None:
        return Outcome.IGNORED
    exchange.send_answer(ctx.session, ctx.settings, answer, ctx.actor_uri)
    return Outcome.DONE


def on_answer(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The payee's node accepted or refused one of our transfers."""
    assert activity.object_id is not None
    try:
        answer = vocab.answer_from_json(activity.raw, activity.object_id)
    except VocabError as exc:
        raise _refuse(ctx, f"unreadable answer: {exc}") from None
    if answer.actor != ctx.actor_uri:
        raise _refuse(ctx, "the answer's actor is not its signer")
    try:
        changed = exchange.on_answer(ctx.session, ctx.settings, answer, ctx.actor_uri)
    except exchange.NotThePayersNode as exc:
        raise _refuse(ctx, str(exc)) from None
    return Outcome.DONE if changed else Outcome.IGNORED


def inbox_handlers() -> Contribution:
    """The time bank's part of the node's dispatcher."""
    return contribution(
        "timebank",
        types=TYPES,
        kinds={TRANSFER_OFFER, TRANSFER_ANSWER},
        classify=classify,
        handlers={TRANSFER_OFFER: (on_offer,), TRANSFER_ANSWER: (on_answer,)},
    )
