"""The time bank on the wire: transfers between nodes and clearing statements, both directions.

Pure mapping between decoded JSON and frozen dataclasses (see the "Time bank" section of FEDERATION.md):

- a transfer is a ValueFlows ``EconomicEvent`` (``action: transfer``, ``provider`` the payer,
  ``receiver`` the payee, ``resourceConformsTo`` our ``TimeToken``, ``resourceQuantity`` in hours,
  ``realizationOf`` the agreement it pays, ``hasPointInTime`` when the payer's node made it), offered
  by the payer's node actor with ``Offer``; its ``id`` is the transfer id both nodes keep;
- the payee's node answers ``Accept`` or ``Reject`` of the ``Offer`` (by id), ``result`` the
  transfer id; a refusal carries ``refusal`` (a code) and ``retryable``;
- a clearing statement (``ClearingStatement``) is what a node says of its clearing account with a peer:
  balance, its settled transfers grouped in digests, the open ones since the last agreed point, and, on
  request, the transfers of some groups.

Parsers ignore ``@context``, read the compacted names, refuse what is missing or malformed with a
:class:`~node.market.vocab.common.VocabError` naming the field, and ignore unknown fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from node.activitypub.addressing import AS_CONTEXT, types_of
from node.core.text import plain_text
from node.core.timeutil import isoformat
from node.market.vocab.common import (
    NS,
    OM2,
    TIME_TOKEN,
    VF,
    VocabError,
    as_document,
    format_number,
    hours_of,
    optional_ref,
    read_currency,
    read_instant,
    read_quantity,
    read_term,
    require_type,
    required_ref,
)

NOTE_MAX = 500
KINDS = frozenset({"payment", "cancellation-fee", "gift"})
# Refusals a payee's node may give; the retryable ones keep the payer's tokens held and the transfer
# offered again later.
REFUSALS = {
    "peer-cap": True,
    "maximum": True,
    "no-time-bank": False,
    "unknown-payee": False,
    "invalid-amount": False,
    "agreement-mismatch": False,
    "conflicting-transfer": False,
}

_ID = {"@type": "@id"}
CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "vf": VF,
        "om2": OM2,
        "asasap": NS,
        "EconomicEvent": "vf:EconomicEvent",
        "action": "vf:action",
        "provider": {"@id": "vf:provider", **_ID},
        "receiver": {"@id": "vf:receiver", **_ID},
        "resourceConformsTo": {"@id": "vf:resourceConformsTo", **_ID},
        "resourceQuantity": "vf:resourceQuantity",
        "realizationOf": {"@id": "vf:realizationOf", **_ID},
        "hasPointInTime": {"@id": "vf:hasPointInTime", "@type": "xsd:dateTime"},
        "note": "vf:note",
        "hasUnit": "om2:hasUnit",
        "hasNumericalValue": "om2:hasNumericalValue",
        "TimeToken": "asasap:TimeToken",
        "transferKind": "asasap:transferKind",
        "refusal": "asasap:refusal",
        "retryable": "asasap:retryable",
        "ClearingStatement": "asasap:ClearingStatement",
        "clearingPeer": {"@id": "asasap:clearingPeer", **_ID},
        "since": {"@id": "asasap:since", "@type": "xsd:dateTime"},
        "nonce": "asasap:nonce",
        "balance": "asasap:balance",
        "transferCount": "asasap:transferCount",
        "digests": {"@id": "asasap:digests", "@type": "@json"},
        "digestVersion": "asasap:digestVersion",
        "open": {"@id": "asasap:open", "@type": "@json"},
        "transfers": {"@id": "asasap:transfers", "@type": "@json"},
        "proof": {"@id": "asasap:proof", "@type": "@json"},
    },
]


@dataclass(frozen=True)
class TransferEvent:
    """A transfer of time tokens between two people of different nodes."""

    id: str
    payer: str
    payee: str
    hours: Decimal
    kind: str
    at: datetime
    agreement: str | None = None
    note: str = ""


@dataclass(frozen=True)
class TransferOffer:
    """``Offer`` of a :class:`TransferEvent` by the payer's node."""

    id: str
    actor: str
    event: TransferEvent


@dataclass(frozen=True)
class TransferAnswer:
    """``Accept`` or ``Reject`` of a transfer's ``Offer`` by the payee's node."""

    id: str
    actor: str
    offer_id: str
    accepted: bool
    transfer: str | None = None
    refusal: str = ""
    retryable: bool = False
    reason: str = ""


def event_to_json(event: TransferEvent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "EconomicEvent",
        "id": event.id,
        "action": "transfer",
        "provider": event.payer,
        "receiver": event.payee,
        "resourceConformsTo": TIME_TOKEN,
        "resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": format_number(event.hours)},
        "transferKind": event.kind,
        "hasPointInTime": isoformat(event.at),
    }
    if event.agreement is not None:
        data["realizationOf"] = event.agreement
    if event.note:
        data["note"] = event.note
    return data


def event_from_json(data: object) -> TransferEvent:
    doc = as_document(data, "a transfer")
    require_type(doc, "EconomicEvent")
    action = read_term(doc, "action")
    if action not in ("transfer", VF + "transfer", "vf:transfer"):
        raise VocabError("field 'action' must be 'transfer'")
    if read_currency(doc) != "HOUR":
        raise VocabError("field 'resourceConformsTo' must be time tokens")
    hours = hours_of(read_quantity(doc, "resourceQuantity"))
    if hours is None:
        raise VocabError("field 'resourceQuantity' must be a number of hours")
    kind = read_term(doc, "transferKind", ("asasap:", NS))
    if kind not in KINDS:
        raise VocabError("field 'transferKind' is missing or unknown")
    at = read_instant(doc, "hasPointInTime") if "hasPointInTime" in doc else None
    if at is None:
        raise VocabError("missing required field 'hasPointInTime'")
    note = read_term(doc, "note")
    return TransferEvent(
        id=required_ref(doc, "id"),
        payer=required_ref(doc, "provider"),
        payee=required_ref(doc, "receiver"),
        hours=hours,
        kind=kind,
        at=at,
        agreement=optional_ref(doc, "realizationOf"),
        note=plain_text(note, NOTE_MAX) if isinstance(note, str) else "",
    )


def is_transfer_event(data: object) -> bool:
    """Whether ``data`` looks like one of our transfers (an ``EconomicEvent`` of time tokens)."""
    return (
        isinstance(data, Mapping)
        and "EconomicEvent" in types_of(data)
        and read_term(data, "action") in ("transfer", VF + "transfer", "vf:transfer")
    )


def offer_to_json(offer: TransferOffer) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "Offer",
        "id": offer.id,
        "actor": offer.actor,
        "object": event_to_json(offer.event),
        "to": [offer.event.payee],
    }


def offer_from_json(data: object) -> TransferOffer:
    doc = as_document(data, "an offer")
    require_type(doc, "Offer")
    obj = doc.get("object")
    if not isinstance(obj, Mapping):
        raise VocabError("field 'object' must be the embedded transfer")
    return TransferOffer(
        id=required_ref(doc, "id"), actor=required_ref(doc, "actor"), event=event_from_json(obj)
    )


def answer_to_json(answer: TransferAnswer, to: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "Accept" if answer.accepted else "Reject",
        "id": answer.id,
        "actor": answer.actor,
        "object": answer.offer_id,
        "to": [to],
    }
    if answer.transfer is not None:
        data["result"] = answer.transfer
    if not answer.accepted:
        data["refusal"] = answer.refusal
        data["retryable"] = answer.retryable
        if answer.reason:
            data["content"] = answer.reason
    return data


def answer_from_json(data: Mapping[str, Any], offer_id: str) -> TransferAnswer:
    """An ``Accept``/``Reject`` whose object the inbox already read as ``offer_id``."""
    kinds = types_of(data)
    accepted = "Accept" in kinds
    if not accepted and "Reject" not in kinds:
        raise VocabError("an answer is an Accept or a Reject")
    refusal = read_term(data, "refusal", ("asasap:", NS))
    retryable = read_term(data, "retryable", ("asasap:", NS))
    if not accepted:
        if not isinstance(refusal, str) or not refusal:
            raise VocabError("missing required field 'refusal'")
        if not isinstance(retryable, bool):
            raise VocabError("field 'retryable' must be true or false")
    reason = data.get("content")
    result = data.get("result")
    return TransferAnswer(
        id=required_ref(data, "id"),
        actor=required_ref(data, "actor"),
        offer_id=offer_id,
        accepted=accepted,
        transfer=result if isinstance(result, str) else None,
        refusal=refusal[:40] if isinstance(refusal, str) else "",
        retryable=bool(retryable) if not accepted else False,
        reason=plain_text(reason, NOTE_MAX) if isinstance(reason, str) else "",
    )
