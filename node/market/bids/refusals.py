"""Answering an ``Offer`` that this node cannot take: a ``Reject`` to the bidder, with the reason in
French and English, instead of a silently failed inbox row.

A peer may price its answer in an asset we do not handle (Mitra counts money in the smallest unit of a
crypto-asset), send an absurd amount, or answer a proposal that is closed: the bidder's server deserves
to know, and the author of the proposal has nothing to decide.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from node.activitypub.actors import local
from node.core.errors import N_
from node.core.i18n import in_every_language
from node.core.timeutil import utcnow
from node.market import vocab
from node.market.agreements.parties import send_private
from node.market.models import Proposal
from node.market.proposals.publishing import author_actor
from node.settings import Settings

log = logging.getLogger("asasap.market")

MSG_PAYMENT_UNSUPPORTED = N_(
    "This node takes payment only in euros, or in time tokens on a cooperative node, counted in units: "
    "your answer is priced in something else."
)


def refuse_offer(
    settings: Settings, proposal: Proposal, offer_id: str, bidder_uri: str, reason: str, *, session: Session
) -> None:
    """Send ``Reject`` of the ``Offer`` ``offer_id`` to ``bidder_uri``, from the proposal's author (or
    group), with ``reason`` (an English message id) in every language we speak."""
    actor = author_actor(settings, proposal, session=session)
    reasons = in_every_language(reason)
    activity = vocab.reject_to_json(
        actor.uri,
        offer_id,
        [bidder_uri],
        activity_id=local.new_activity_id(settings),
        reason=reasons.get("fr", reason),
        reasons=reasons,
        published=utcnow(),
    )
    send_private(settings, actor, activity, bidder_uri, session=session)
    log.info("refused the offer %s of %s on %s: %s", offer_id, bidder_uri, proposal.ap_id, reason)
