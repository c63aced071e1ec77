"""The agreement on the wire beyond FEP-0837's ``Accept``: the document its holder serves and sends
with ``Update`` after every change of state, and the contact details its parties share.

The holder of an agreement (the node of the proposal's author) is authoritative. Its ``Agreement``
document is the FEP's final agreement (as carried by ``Accept``) plus:

- ValueFlows ``provider`` and ``receiver`` on each commitment: who delivers the service and who
  receives it (the reciprocal commitment the other way round), so the parties are read from the
  document itself;
- our ``agreementState`` (``accepted``, ``confirmed_by_one``, ``completed``, ``cancelled``,
  ``disputed``), ``confirmedByProvider``/``confirmedByReceiver`` (when each party confirmed
  completion), ``lateCancellation`` when a cancellation came less than 24 hours before the start,
  and ActivityStreams ``published``/``updated`` (``updated`` orders the holder's updates).

Nodes that are not a party's only get the public part of a completed agreement
(:func:`agreement_document` with ``full=False``): its id, author, state and parties, which is what
a node needs to check an evaluation and no more than a published evaluation already says.

Contact details never travel in an activity (activities are stored as sent and as received): a
party's node announces them with ``Create``/``Update`` of a schema.org ``ContactPoint`` that
carries only its id, and the other party's node fetches the details from that id with a signed
request, which the owner's node answers for the other party's node only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from node.core.text import plain_text
from node.market import schedule as sched
from node.market import vocab
from node.market.lifecycles import AgreementState
from node.market.models import Agreement
from node.market.money import Currency, Price

__all__ = [
    "CONTEXT",
    "AgreementSnapshot",
    "ContactDetails",
    "accept_activity",
    "agreement_document",
    "agreement_terms",
    "contact_document",
    "contact_notice",
    "is_contact_notice",
    "read_agreement",
    "read_contact",
    "stored_schedule",
    "update_activity",
]

EXTRA_TERMS: dict[str, Any] = {
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "agreementState": "asasap:agreementState",
    "confirmedByProvider": {"@id": "asasap:confirmedByProvider", "@type": "xsd:dateTime"},
    "confirmedByReceiver": {"@id": "asasap:confirmedByReceiver", "@type": "xsd:dateTime"},
    "ContactPoint": "schema:ContactPoint",
    "telephone": "schema:telephone",
    "address": "schema:address",
}
CONTEXT: list[Any] = [*vocab.CONTEXT, EXTRA_TERMS]

ADDRESS_MAX = 300
PHONE_MAX = 30


# --- agreements -----------------------------------------------------------------------------------


def _price(agreement: Agreement) -> Price | None:
    if agreement.price_amount is None or agreement.price_currency not in ("EUR", "HOUR"):
        return None
    basis = "per_hour" if agreement.price_basis == "per_hour" else "total"
    return Price(agreement.price_amount, agreement.price_currency, basis)  # type: ignore[arg-type]


def stored_schedule(text: str | None) -> sched.Schedule | None:
    """A schedule stored as the JSON of :func:`node.market.schedule.to_json` (None when unreadable)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return sched.from_json(data) if isinstance(data, dict) else None
    except ValueError:
        return None


def agreement_terms(agreement: Agreement, *, author_uri: str) -> vocab.AgreementDoc:
    """The final agreement of a row held here: its proposal's intents, hours, price and schedule."""
    price = _price(agreement)
    return vocab.AgreementDoc(
        primary_intent=agreement.proposal_ap_id + "#primary",
        id=agreement.ap_id,
        attributed_to=author_uri,
        reciprocal_intent=agreement.proposal_ap_id + "#reciprocal" if price is not None else None,
        quantity=agreement.quantity_hours,
        price=price,
        schedule=stored_schedule(agreement.schedule),
    )


def _terms_json(terms: vocab.AgreementDoc) -> dict[str, Any]:
    # The Agreement exactly as the FEP's Accept carries it (vocab writes it only inside activities).
    carrier = vocab.accept_to_json(
        terms.attributed_to or "", "urn:x:offer", terms, [], activity_id="urn:x:accept"
    )
    result: dict[str, Any] = carrier["result"]
    return result


def _with_parties(data: dict[str, Any], provider: str, receiver: str) -> dict[str, Any]:
    data["stipulates"] = {**data["stipulates"], "provider": provider, "receiver": receiver}
    if "stipulatesReciprocal" in data:
        data["stipulatesReciprocal"] = {
            **data["stipulatesReciprocal"],
            "provider": receiver,
            "receiver": provider,
        }
    return data


def _instant(value: datetime | None) -> str | None:
    return None if value is None else sched.format_instant(value)


def agreement_document(agreement: Agreement, *, author_uri: str, full: bool = True) -> dict[str, Any]:
    """The ``Agreement`` its holder serves and sends with ``Update``; ``full=False`` keeps only the
    id, author, state and parties (for nodes that are not a party's)."""
    if full:
        data = _terms_json(agreement_terms(agreement, author_uri=author_uri))
    else:
        data = {
            "type": "Agreement",
            "id": agreement.ap_id,
            "attributedTo": author_uri,
            "stipulates": {
                "id": agreement.ap_id + "#primary",
                "type": "Commitment",
                "satisfies": agreement.proposal_ap_id + "#primary",
            },
        }
    data = _with_parties(data, agreement.provider_uri, agreement.requester_uri)
    if agreement.performer_uri:
        data["performer"] = agreement.performer_uri
    data["agreementState"] = agreement.state
    extras: dict[str, str | None] = {
        "published": _instant(agreement.created_at),
        "updated": _instant(agreement.updated_at),
    }
    if full:
        extras["confirmedByProvider"] = _instant(agreement.provider_confirmed_at)
        extras["confirmedByReceiver"] = _instant(agreement.requester_confirmed_at)
    data.update({key: value for key, value in extras.items() if value is not None})
    if full and agreement.state == AgreementState.CANCELLED:
        data["lateCancellation"] = agreement.late_cancellation
    return {"@context": CONTEXT, **data}


def accept_activity(
    agreement: Agreement, *, author_uri: str, offer_id: str, to: str, activity_id: str
) -> dict[str, Any]:
    """``Accept`` of the bid ``offer_id`` carrying the final agreement with its parties and state."""
    activity = vocab.accept_to_json(
        author_uri,
        offer_id,
        agreement_terms(agreement, author_uri=author_uri),
        [to],
        activity_id=activity_id,
        published=agreement.created_at,
    )
    result = _with_parties(dict(activity["result"]), agreement.provider_uri, agreement.requester_uri)
    result["agreementState"] = agreement.state
    result["published"] = sched.format_instant(agreement.created_at)
    result["updated"] = sched.format_instant(agreement.updated_at)
    activity["result"] = result
    activity["@context"] = CONTEXT
    return activity


def update_activity(document: Mapping[str, Any], *, actor: str, to: str, activity_id: str) -> dict[str, Any]:
    """``Update`` of the agreement by its holder, to the other party only."""
    activity = vocab.activity_to_json("Update", actor, document, activity_id=activity_id, to=[to])
    activity["@context"] = CONTEXT
    return activity


@dataclass(frozen=True)
class AgreementSnapshot:
    """An agreement as its holder describes it (an ``Accept``'s result or an ``Update``'s object)."""

    terms: vocab.AgreementDoc
    state: AgreementState
    provider: str | None = None
    receiver: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    confirmed_by_provider: datetime | None = None
    confirmed_by_receiver: datetime | None = None
    late_cancellation: bool = False
    performer: str | None = None

    @property
    def id(self) -> str:
        assert self.terms.id is not None
        return self.terms.id

    @property
    def author(self) -> str | None:
        return self.terms.attributed_to


def _optional_uri(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or len(value) > 2048:
        raise vocab.VocabError(f"field {name!r} must be an http(s) URI")
    return value


def _optional_instant(data: Mapping[str, Any], name: str) -> datetime | None:
    if data.get(name) is None:
        return None
    try:
        return sched.parse_instant(data[name], name)
    except ValueError as error:
        raise vocab.VocabError(str(error)) from None


def read_agreement(data: object, *, default_currency: Currency | None = None) -> AgreementSnapshot:
    """Read an agreement document (full or public part); :class:`~node.market.vocab.VocabError` when it
    is not one. A document without ``agreementState`` (an Accept from other software) is ``accepted``;
    ``default_currency`` prices a reciprocal commitment that does not name its currency."""
    if not isinstance(data, Mapping):
        raise vocab.VocabError("an agreement must be a JSON object")
    agreement_id = data.get("id")
    # vocab reads a final Agreement only inside an Accept: wrap it in one.
    terms = vocab.accept_from_json(
        {"type": "Accept", "id": agreement_id, "actor": agreement_id, "object": agreement_id, "result": data},
        default_currency=default_currency,
    ).agreement
    state_value = data.get("agreementState", AgreementState.ACCEPTED.value)
    try:
        state = AgreementState(state_value)
    except ValueError:
        raise vocab.VocabError(f"field 'agreementState': unknown state {str(state_value)[:20]!r}") from None
    primary = data.get("stipulates") or data.get("stiplulates")
    primary = primary if isinstance(primary, Mapping) else {}
    late = data.get("lateCancellation", False)
    if not isinstance(late, bool):
        raise vocab.VocabError("field 'lateCancellation' must be true or false")
    return AgreementSnapshot(
        terms=terms,
        state=state,
        provider=_optional_uri(primary, "provider"),
        receiver=_optional_uri(primary, "receiver"),
        published=_optional_instant(data, "published"),
        updated=_optional_instant(data, "updated"),
        confirmed_by_provider=_optional_instant(data, "confirmedByProvider"),
        confirmed_by_receiver=_optional_instant(data, "confirmedByReceiver"),
        late_cancellation=late,
        performer=_optional_uri(data, "performer"),
    )


# --- contact details --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactDetails:
    """What a party shares with the other inside an agreement (plain text; either may be empty)."""

    address: str = ""
    phone: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps({"address": self.address, "phone": self.phone}, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ContactDetails:
        data = json.loads(raw.decode())
        return cls(address=str(data.get("address", "")), phone=str(data.get("phone", "")))


def contact_document(
    contact_id: str, *, party: str, agreement_id: str, details: ContactDetails, updated: datetime
) -> dict[str, Any]:
    """The ``ContactPoint`` served to the other party's node only."""
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "ContactPoint",
        "id": contact_id,
        "attributedTo": party,
        "context": agreement_id,
        "updated": sched.format_instant(updated),
    }
    if details.address:
        data["address"] = details.address
    if details.phone:
        data["telephone"] = details.phone
    return data


def contact_notice(
    *, actor: str, contact_id: str, agreement_id: str, to: str, activity_id: str, first: bool
) -> dict[str, Any]:
    """``Create`` (first time) or ``Update`` of a ``ContactPoint`` that carries no details, only its id."""
    obj = {"type": "ContactPoint", "id": contact_id, "attributedTo": actor, "context": agreement_id}
    activity = vocab.activity_to_json(
        "Create" if first else "Update", actor, obj, activity_id=activity_id, to=[to]
    )
    activity["@context"] = CONTEXT
    return activity


def read_contact(data: object, *, expected_id: str) -> tuple[str, str, ContactDetails]:
    """``(party, agreement id, details)`` of a fetched ``ContactPoint``; details are reduced to plain
    text. :class:`~node.market.vocab.VocabError` when it is not the one expected."""
    if not isinstance(data, Mapping) or data.get("type") != "ContactPoint" or data.get("id") != expected_id:
        raise vocab.VocabError(f"{expected_id} is not a ContactPoint")
    party = _optional_uri(data, "attributedTo")
    agreement = _optional_uri(data, "context")
    if party is None or agreement is None:
        raise vocab.VocabError("a ContactPoint needs 'attributedTo' and 'context'")
    address, phone = data.get("address", ""), data.get("telephone", "")
    if not isinstance(address, str) or not isinstance(phone, str):
        raise vocab.VocabError("'address' and 'telephone' must be strings")
    details = ContactDetails(
        address=plain_text(address, ADDRESS_MAX, multiline=True), phone=plain_text(phone, PHONE_MAX)
    )
    return party, agreement, details


def is_contact_notice(obj: object) -> bool:
    """Whether an activity's object is the announcement of a ``ContactPoint``."""
    return isinstance(obj, Mapping) and obj.get("type") == "ContactPoint"
