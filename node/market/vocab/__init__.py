"""The marketplace on the wire: FEP-0837 documents and our extensions, both directions.

Pure mapping between JSON (already decoded) and frozen dataclasses. Parsers ignore ``@context`` and
read the compacted names peers send; they raise :class:`VocabError` naming the field when a required
field is missing or a present field is malformed, ignore unknown fields, and sanitise every text they
keep (:mod:`node.core.text`). Bounds on prices, hours and dates are the services' business
(:mod:`node.market.money`, :mod:`node.market.schedule`), not the parser's. Everything we emit carries
:data:`CONTEXT`, the ActivityStreams context plus inline term definitions: no context URL of ours has
to be fetched.

The documents and their mapping live in :mod:`node.market.vocab.proposals`,
:mod:`node.market.vocab.agreements` and :mod:`node.market.vocab.evaluations`, on the shared readers and
writers of :mod:`node.market.vocab.common`; this module gathers them and tells which reader fits an
incoming activity (:func:`classify_activity`).

FEP-0837 (Federated Marketplace) as we use it:

- Offers and demands are ``Proposal`` objects, ``purpose`` ``offer`` or ``request``. The primary
  intent ``#primary`` is ``deliverService`` measured in ``hour`` (the unit's name in the Ontology of
  units of Measure 2.0, om2:hour, written unprefixed as the FEP writes ``one``; FEP-c5a1 does the
  same). The reciprocal intent ``#reciprocal`` is the payment: ``transfer`` of euros (Wikidata Q4916,
  counted in ``one``) or of time tokens (our ``asasap:TimeToken``, counted in ``hour``).
- A price per hour uses the FEP's own rule for unit prices: the primary intent is one hour, the
  reciprocal the hourly price, ``unitBased: true`` (agreements are multiples), and the quantity
  wanted or offered is the primary intent's ``availableQuantity``. A total price: the primary intent
  is the whole quantity, the reciprocal the total, ``unitBased: false``. A payment whose amount is
  left to answers has a reciprocal intent without ``hasNumericalValue``; a free service has none.
- ``hasUnit``/``hasNumericalValue`` are read under their plain names and under ``om2:`` and ``vf:``
  (the FEP's examples map them to om2, later versions of its context and Mitra to vf); values may be
  strings or numbers, and units may be written ``hour``, ``om2:hour`` or as the full IRI.
- Answers and bids are ``Offer(Agreement)`` addressed to the author only; ``Accept`` carries the
  final ``Agreement`` in ``result``; ``Reject`` carries the reason in ``content``; withdrawing a bid
  is ``Undo`` of the ``Offer``. Commitments satisfy ``#primary``/``#reciprocal``; the reciprocal one
  holds the total, plus our ``hourlyRate`` when the price was per hour, and ``resourceConformsTo``
  (the currency). ``stiplulates``, a misspelling in the FEP's published ``Accept`` example, is read
  as ``stipulates``.
- The completion receipt is the FEP's ``Create`` of a ``Document`` named ``Receipt`` whose
  ``context`` is the agreement.

Our extensions (terms in :data:`CONTEXT`):

- on a ``Proposal``: ``category`` (a slug of :mod:`node.catalog.categories`), ``biddingDeadline``,
  ``proposalState`` (``open``/``closed``/``withdrawn``/``expired``), ValueFlows ``hasEnd`` for the end
  of its lifetime, ActivityStreams ``startTime``/``endTime`` and schema.org ``eventSchedule`` for its
  schedule (:mod:`node.market.schedule`); ``location`` is an ActivityStreams ``Place`` for the
  commune only (name, commune centre rounded to 0.01°, ``inseeCode``, schema.org ``postalCode``,
  ``departement``), never an address;
- on an ``Agreement``: the same schedule properties and ``content`` (the bidder's message);
- agreement lifecycle, each sent by a party about the agreement: confirming completion is FEP-c5a1's
  ``Create`` of a ValueFlows ``EconomicEvent`` that ``fulfills`` the agreement's ``#primary``
  commitment (``finished: true``, ``effortQuantity`` in hours); cancelling is ``Reject`` of the
  ``Agreement`` (embedded as ``{"type": "Agreement", "id": ...}``, which tells it from a bid's
  rejection) with ``lateCancellation`` and the reason in ``content``; disputing is ``Flag`` of the
  ``Agreement`` with the reason in ``content``, a report to the coordinators of both nodes. Only the
  node of the proposal's author, which owns the agreement, sends ``Update`` of it: after every
  transition, with its state (:mod:`node.market.agreements.documents`), which the other node mirrors;
- evaluations are schema.org ``Review`` objects: ``context`` the agreement, ``itemReviewed`` the
  person evaluated, ``evaluatedRole``, ``reviewRating`` (the overall ``Rating``), ``criteria`` (a
  ``Rating`` per criterion, named by ``reviewAspect``) and the comment in ``content``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from node.activitypub.addressing import types_of
from node.market.vocab import common as vocab_common
from node.market.vocab.agreements import (
    AgreementDoc,
    AgreementEvent,
    AgreementEventKind,
    BidAccept,
    BidOffer,
    BidReject,
    BidWithdrawal,
    Receipt,
    accept_from_json,
    accept_to_json,
    agreement_event_from_json,
    agreement_event_to_json,
    offer_from_json,
    offer_to_json,
    offered_proposal,
    receipt_from_json,
    receipt_to_json,
    reject_from_json,
    reject_to_json,
    withdrawal_from_json,
    withdrawal_to_json,
)
from node.market.vocab.common import (
    CONTEXT,
    EURO,
    NS,
    TIME_TOKEN,
    UnsupportedPayment,
    VocabError,
    activity_to_json,
)
from node.market.vocab.evaluations import EvaluationDoc, evaluation_from_json, evaluation_to_json
from node.market.vocab.proposals import (
    CommuneRef,
    ProposalDoc,
    ProposalLink,
    Purpose,
    proposal_from_json,
    proposal_link_to_json,
    proposal_links_from_actor,
    proposal_to_json,
)

__all__ = [
    "CONTEXT",
    "EURO",
    "NS",
    "TIME_TOKEN",
    "AgreementDoc",
    "AgreementEvent",
    "AgreementEventKind",
    "BidAccept",
    "BidOffer",
    "BidReject",
    "BidWithdrawal",
    "CommuneRef",
    "EvaluationDoc",
    "MarketKind",
    "ProposalDoc",
    "ProposalLink",
    "Purpose",
    "Receipt",
    "UnsupportedPayment",
    "VocabError",
    "accept_from_json",
    "accept_to_json",
    "activity_to_json",
    "agreement_event_from_json",
    "agreement_event_to_json",
    "classify_activity",
    "evaluation_from_json",
    "evaluation_to_json",
    "offer_from_json",
    "offer_to_json",
    "offered_proposal",
    "proposal_from_json",
    "proposal_link_to_json",
    "proposal_links_from_actor",
    "proposal_to_json",
    "receipt_from_json",
    "receipt_to_json",
    "reject_from_json",
    "reject_to_json",
    "withdrawal_from_json",
    "withdrawal_to_json",
]

# Constants also read as ``vocab.NAME``, outside ``__all__``.
OM2 = vocab_common.OM2
VF = vocab_common.VF
SCHEMA = vocab_common.SCHEMA
VF_PROPOSAL = vocab_common.VF_PROPOSAL
TITLE_MAX = vocab_common.TITLE_MAX
MESSAGE_MAX = vocab_common.MESSAGE_MAX
REASON_MAX = vocab_common.REASON_MAX
LINK_NAME_MAX = vocab_common.LINK_NAME_MAX


# --- dispatch -------------------------------------------------------------------------------------

MarketKind = Literal[
    "proposal",
    "offer",
    "accept",
    "reject",
    "withdraw",
    "receipt",
    "confirm",
    "cancel",
    "dispute",
    "evaluation",
]


def classify_activity(data: object) -> MarketKind | None:
    """Which marketplace reader fits an incoming activity (or a bare ``Proposal`` or ``Review``), from
    its shape alone; None when it is not a marketplace document. A ``Reject`` whose object is a bare
    id reads as a bid's rejection: the caller still checks that id against the offers it stored."""
    if not isinstance(data, Mapping):
        return None
    kinds = set(types_of(data))
    if "Proposal" in kinds:
        return "proposal"
    if "Review" in kinds:
        return "evaluation"
    obj = data.get("object")
    obj_kinds = set(types_of(obj)) if isinstance(obj, Mapping) else set()
    if kinds & {"Create", "Update"} and (
        "Proposal" in obj_kinds or (isinstance(obj, Mapping) and "publishes" in obj)
    ):
        return "proposal"
    if "Create" in kinds:
        if "EconomicEvent" in obj_kinds:
            return "confirm"
        if "Review" in obj_kinds:
            return "evaluation"
        if "Document" in obj_kinds and isinstance(obj, Mapping) and obj.get("name") == "Receipt":
            return "receipt"
        return None
    if "Offer" in kinds and "Agreement" in obj_kinds:
        return "offer"
    if "Accept" in kinds and isinstance(data.get("result"), Mapping):
        return "accept"
    if "Reject" in kinds:
        if "Agreement" in obj_kinds:
            return "cancel"
        # A bid's rejection names the Offer; a rejected Follow is not ours.
        return "reject" if isinstance(obj, str) or "Offer" in obj_kinds else None
    if "Flag" in kinds and "Agreement" in obj_kinds:
        return "dispute"
    if "Undo" in kinds and "Offer" in obj_kinds:
        return "withdraw"
    return None
