"""The marketplace on the wire: FEP-0837 documents and our extensions, both directions.

Pure mapping between JSON (already decoded) and frozen dataclasses. Parsers ignore ``@context`` and
read the compacted names peers send; they raise :class:`VocabError` naming the field when a required
field is missing or a present field is malformed, ignore unknown fields, and sanitise every text they
keep (:mod:`node.market.sanitize`). Bounds on prices, hours and dates are the services' business
(:mod:`node.market.money`, :mod:`node.market.schedule`), not the parser's. Everything we emit carries
:data:`CONTEXT`, the ActivityStreams context plus inline term definitions: no context URL of ours has
to be fetched.

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

- on a ``Proposal``: ``category`` (a slug of :mod:`node.market.categories`), ``biddingDeadline``,
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
  transition, with its state (:mod:`node.market.agreement_documents`), which the other node mirrors;
- evaluations are schema.org ``Review`` objects: ``context`` the agreement, ``itemReviewed`` the
  person evaluated, ``evaluatedRole``, ``reviewRating`` (the overall ``Rating``), ``criteria`` (a
  ``Rating`` per criterion, named by ``reviewAspect``) and the comment in ``content``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from node.activitypub import vocab as as_vocab
from node.market import schedule as sched
from node.market.categories import is_category
from node.market.lifecycles import ProposalState
from node.market.money import CENT, Currency, Price, total_for
from node.market.places import Commune
from node.market.reputation import COMMENT_MAX, CRITERIA, Role
from node.market.sanitize import clean_description, html_to_text, plain_text, text_to_html

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

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
OM2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
VF = "https://w3id.org/valueflows/ont/vf#"
SCHEMA = "http://schema.org/"
# Namespace of our own terms; a term's IRI only names it, nobody needs to fetch it.
NS = "https://w3id.org/asasap/ns#"

# Wikidata Q4916 is the euro ("currency of the eurozone"). The FEP's full example prices its bike with
# Q4917, the United States dollar.
EURO = "https://www.wikidata.org/wiki/Q4916"
_EURO_IRIS = frozenset(
    {EURO, "http://www.wikidata.org/wiki/Q4916", "http://www.wikidata.org/entity/Q4916", "wd:Q4916"}
)
TIME_TOKEN = NS + "TimeToken"
_CURRENCY_IRI: Mapping[str, str] = {"EUR": EURO, "HOUR": TIME_TOKEN}
_CURRENCY_UNIT: Mapping[str, str] = {"EUR": "one", "HOUR": "hour"}
VF_PROPOSAL = VF + "Proposal"

PUBLIC = as_vocab.AS_PUBLIC
TITLE_MAX = 120
MESSAGE_MAX = 2000
REASON_MAX = 500
LINK_NAME_MAX = 200

_XSD_DATETIME = "xsd:dateTime"
CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "om2": OM2,
        "vf": VF,
        "schema": SCHEMA,
        "asasap": NS,
        # FEP-0837, FEP-c5a1 (ValueFlows, units of measure)
        "Proposal": "vf:Proposal",
        "Intent": "vf:Intent",
        "Agreement": "vf:Agreement",
        "Commitment": "vf:Commitment",
        "EconomicEvent": "vf:EconomicEvent",
        "action": "vf:action",
        "purpose": "vf:purpose",
        "unitBased": "vf:unitBased",
        "publishes": "vf:publishes",
        "reciprocal": "vf:reciprocal",
        "resourceConformsTo": "vf:resourceConformsTo",
        "resourceQuantity": "vf:resourceQuantity",
        "availableQuantity": "vf:availableQuantity",
        "effortQuantity": "vf:effortQuantity",
        "stipulates": "vf:stipulates",
        "stipulatesReciprocal": "vf:stipulatesReciprocal",
        "satisfies": "vf:satisfies",
        "fulfills": "vf:fulfills",
        "provider": "vf:provider",
        "receiver": "vf:receiver",
        "finished": "vf:finished",
        "hasEnd": {"@id": "vf:hasEnd", "@type": _XSD_DATETIME},
        "hasUnit": "om2:hasUnit",
        "hasNumericalValue": "om2:hasNumericalValue",
        # schema.org
        "postalCode": "schema:postalCode",
        "Schedule": "schema:Schedule",
        "eventSchedule": "schema:eventSchedule",
        "repeatFrequency": "schema:repeatFrequency",
        "byDay": "schema:byDay",
        "startDate": "schema:startDate",
        "endDate": "schema:endDate",
        "scheduleTimezone": "schema:scheduleTimezone",
        "Review": "schema:Review",
        "Rating": "schema:Rating",
        "itemReviewed": {"@id": "schema:itemReviewed", "@type": "@id"},
        "reviewRating": "schema:reviewRating",
        "reviewAspect": "schema:reviewAspect",
        "ratingValue": "schema:ratingValue",
        "bestRating": "schema:bestRating",
        "worstRating": "schema:worstRating",
        # ours
        "TimeToken": "asasap:TimeToken",
        "category": "asasap:category",
        "inseeCode": "asasap:inseeCode",
        "departement": "asasap:departement",
        "dailyStartTime": "asasap:dailyStartTime",
        "dailyEndTime": "asasap:dailyEndTime",
        "biddingDeadline": {"@id": "asasap:biddingDeadline", "@type": _XSD_DATETIME},
        "proposalState": "asasap:proposalState",
        "hourlyRate": "asasap:hourlyRate",
        "lateCancellation": "asasap:lateCancellation",
        "evaluatedRole": "asasap:evaluatedRole",
        "criteria": "asasap:criteria",
    },
]

Purpose = Literal["offer", "request"]
AgreementEventKind = Literal["confirm", "cancel", "dispute"]


class VocabError(as_vocab.VocabError):
    """A marketplace document that cannot be read as what it should be; the message names the field.

    A subclass of the ActivityPub layer's error, so the inbox handles both alike.
    """


# --- documents ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommuneRef:
    """A coarse public location: a commune, its centre rounded to 0.01° (about a kilometre).

    A ``Place`` from other software may have only coordinates (``name`` empty, codes None).
    """

    name: str
    insee: str | None = None
    postal_code: str | None = None
    departement: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def __post_init__(self) -> None:
        for attr in ("latitude", "longitude"):
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, round(float(value), 2))

    @classmethod
    def from_commune(cls, commune: Commune) -> CommuneRef:
        return cls(
            name=commune.name,
            insee=commune.insee,
            postal_code=commune.postal_codes[0] if commune.postal_codes else None,
            departement=commune.departement,
            latitude=commune.lat,
            longitude=commune.lon,
        )


@dataclass(frozen=True)
class ProposalDoc:
    """An offer or a demand as exchanged between nodes.

    ``quantity`` is in hours (None: not said or not in hours); ``currency`` says how the service is
    paid even when ``price`` leaves the amount open (None with no price: a free service); ``raw`` is
    the document as received.
    """

    id: str
    attributed_to: str
    purpose: Purpose
    name: str = ""
    content: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    category: str | None = None
    commune: CommuneRef | None = None
    schedule: sched.Schedule | None = None
    quantity: Decimal | None = None
    price: Price | None = None
    currency: Currency | None = None
    bidding_deadline: datetime | None = None
    expires: datetime | None = None
    state: ProposalState = ProposalState.OPEN
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", ProposalState(self.state))
        if self.price is not None:
            if self.currency is None:
                object.__setattr__(self, "currency", self.price.currency)
            elif self.currency != self.price.currency:
                raise ValueError("the currency of a proposal differs from the currency of its price")

    @property
    def primary_intent(self) -> str:
        return self.id + "#primary"

    @property
    def reciprocal_intent(self) -> str | None:
        return self.id + "#reciprocal" if self.currency is not None else None


@dataclass(frozen=True)
class AgreementDoc:
    """An agreement, proposed in a bid (``id`` may be None) or final (``id`` set).

    ``primary_intent``/``reciprocal_intent`` are the proposal's intents the commitments satisfy;
    ``quantity`` is in hours; ``message`` is plain text.
    """

    primary_intent: str
    id: str | None = None
    attributed_to: str | None = None
    reciprocal_intent: str | None = None
    quantity: Decimal | None = None
    price: Price | None = None
    schedule: sched.Schedule | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.price is not None and self.reciprocal_intent is None:
            raise ValueError("a price needs the reciprocal intent it satisfies")

    @property
    def proposal(self) -> str:
        """The id of the proposal whose intents the agreement satisfies."""
        return self.primary_intent.split("#", 1)[0]


@dataclass(frozen=True)
class BidOffer:
    """``Offer(Agreement)``: an answer or a bid, sealed (addressed to the author only)."""

    id: str
    actor: str
    agreement: AgreementDoc
    to: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class BidAccept:
    """``Accept`` of an ``Offer``, with the final agreement."""

    id: str
    actor: str
    offer_id: str
    agreement: AgreementDoc
    to: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class BidReject:
    """``Reject`` of an ``Offer``; ``reason`` is plain text."""

    id: str
    actor: str
    offer_id: str
    reason: str = ""
    to: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class BidWithdrawal:
    """``Undo`` of an ``Offer`` by the bidder."""

    id: str
    actor: str
    offer_id: str
    to: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    """The FEP's completion receipt: ``Create`` (``activity_id``) of a ``Document`` (``id``)."""

    id: str
    activity_id: str
    actor: str
    agreement: str
    to: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class AgreementEvent:
    """A party confirms completion, cancels or disputes an agreement (see the module docstring).

    ``event_id`` (the ``EconomicEvent``), ``hours``, ``provider`` and ``receiver`` belong to a
    confirmation; ``late`` to a cancellation; ``reason`` (plain text) to a cancellation or a dispute.
    """

    kind: AgreementEventKind
    id: str
    actor: str
    agreement: str
    to: tuple[str, ...] = ()
    published: datetime | None = None
    reason: str = ""
    late: bool = False
    event_id: str | None = None
    hours: Decimal | None = None
    provider: str | None = None
    receiver: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "confirm" and self.event_id is None:
            raise ValueError("a confirmation needs the id of its EconomicEvent")


@dataclass(frozen=True)
class EvaluationDoc:
    """An evaluation of ``evaluated`` (in ``role``) by ``attributed_to`` for ``agreement``."""

    id: str
    attributed_to: str
    agreement: str
    evaluated: str
    role: Role
    overall: int
    criteria: Mapping[str, int] = field(default_factory=dict)
    comment: str = ""
    published: datetime | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProposalLink:
    """A FEP-0ea0 payment link on an actor that points at one of its proposals."""

    href: str
    name: str = ""


# --- readers ----------------------------------------------------------------------------------------

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_INSEE = re.compile(r"^(\d{2}|2A|2B)\d{3}$")
_POSTAL = re.compile(r"^\d{5}$")
_DEPARTEMENT = re.compile(r"^(\d{2,3}|2A|2B)$")
_NUMBER = re.compile(r"^\d{1,9}(\.\d{1,12})?$")
_UNIT_PREFIXES = ("om2:", "vf:", OM2, VF)


def _document(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise VocabError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def _types(data: Mapping[str, Any]) -> tuple[str, ...]:
    value = data.get("type")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _require_type(data: Mapping[str, Any], expected: str) -> None:
    kinds = _types(data)
    if not kinds:
        raise VocabError("missing required field 'type'")
    if expected not in kinds:
        raise VocabError(f"type {kinds[0]!r} is not {expected!r}")


def _is_uri(value: object) -> bool:
    if not isinstance(value, str) or not value or len(value) > as_vocab.MAX_URI_LENGTH:
        return False
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _ref(value: object, name: str) -> str:
    """An id given as a string, an object with an ``id`` or a one-element list of either."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("id")
    if not _is_uri(value):
        raise VocabError(f"field {name!r} must be an http(s) URI")
    return cast(str, value)


def _required_ref(data: Mapping[str, Any], name: str) -> str:
    if data.get(name) is None:
        raise VocabError(f"missing required field {name!r}")
    return _ref(data[name], name)


def _optional_ref(data: Mapping[str, Any], name: str) -> str | None:
    return None if data.get(name) is None else _ref(data[name], name)


def _audience(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    result = []
    for item in value if isinstance(value, list) else [value]:
        target = item.get("id") if isinstance(item, Mapping) else item
        if not isinstance(target, str):
            raise VocabError(f"field {name!r} must hold URI strings")
        result.append(PUBLIC if target in ("as:Public", "Public") else target)
    return tuple(result)


def _string(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise VocabError(f"field {name!r} must be a string")
    return value


def _instant(data: Mapping[str, Any], name: str) -> datetime | None:
    if data.get(name) is None:
        return None
    try:
        return sched.parse_instant(data[name], name)
    except ValueError as error:
        raise VocabError(str(error)) from None


def _bool(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise VocabError(f"field {name!r} must be true or false")
    return value


def _term(data: Mapping[str, Any], name: str, prefixes: Sequence[str] = ("vf:", VF)) -> Any:
    """A term under its plain name, else under a prefix or its full IRI (for peers that did not
    define the term in their context)."""
    if name in data:
        return data[name]
    for prefix in prefixes:
        if prefix + name in data:
            return data[prefix + name]
    return None


def _decimal(value: object, name: str) -> Decimal:
    """A non-negative amount from a JSON string or number."""
    if isinstance(value, bool):
        raise VocabError(f"field {name!r} must be a number")
    if isinstance(value, int):
        if not 0 <= value < 10**9:
            raise VocabError(f"field {name!r} is out of range")
        return Decimal(value)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str) or not _NUMBER.match(value.strip()):
        raise VocabError(f"field {name!r} must be a non-negative decimal number")
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise VocabError(f"field {name!r} must be a non-negative decimal number") from None


@dataclass(frozen=True)
class _Quantity:
    unit: str
    value: Decimal | None


def _unit_name(value: str) -> str:
    for prefix in _UNIT_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _quantity(data: Mapping[str, Any], name: str) -> _Quantity | None:
    raw = _term(data, name)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise VocabError(f"field {name!r} must be an object with 'hasUnit'")
    unit = _term(raw, "hasUnit", ("om2:", "vf:", OM2, VF))
    if not isinstance(unit, str) or not unit:
        raise VocabError(f"missing required field 'hasUnit' of {name!r}")
    value = _term(raw, "hasNumericalValue", ("om2:", "vf:", OM2, VF))
    return _Quantity(
        _unit_name(unit), None if value is None else _decimal(value, f"{name}.hasNumericalValue")
    )


def _hours(quantity: _Quantity | None) -> Decimal | None:
    return quantity.value if quantity is not None and quantity.unit == "hour" else None


def _currency(data: Mapping[str, Any]) -> Currency | None:
    conforms = _term(data, "resourceConformsTo")
    if isinstance(conforms, Mapping):
        conforms = conforms.get("id")
    if conforms in _EURO_IRIS:
        return "EUR"
    if conforms in (TIME_TOKEN, "asasap:TimeToken"):
        return "HOUR"
    return None


def _embedded(data: Mapping[str, Any], name: str, *, required: bool) -> Mapping[str, Any] | None:
    """An embedded object (the first of a list); an id alone is not enough here."""
    value = _term(data, name)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, Mapping)), None)
    if value is None:
        if required:
            raise VocabError(f"missing required field {name!r}")
        return None
    if not isinstance(value, Mapping):
        raise VocabError(f"field {name!r} must be an embedded object")
    return value


def _unwrap(data: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The object of a ``Create``/``Update`` wrapping a ``kind`` (or, for a proposal, anything that
    ``publishes``), else ``data`` itself."""
    inner = data.get("object")
    if set(_types(data)) & {"Create", "Update"} and isinstance(inner, Mapping):
        if kind in _types(inner) or (kind == "Proposal" and _term(inner, "publishes") is not None):
            return inner
    return data


def _text(html: object, limit: int) -> str:
    return html_to_text(html, limit) if isinstance(html, str) else ""


# --- writers ----------------------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    return format(value, "f")


def _quantity_json(unit: str, value: Decimal | None) -> dict[str, str]:
    result = {"hasUnit": unit}
    if value is not None:
        result["hasNumericalValue"] = _number(value)
    return result


def _put_audience(data: dict[str, Any], to: Sequence[str], cc: Sequence[str] = ()) -> None:
    data["to"] = list(to)
    if cc:
        data["cc"] = list(cc)


def _as_tuple(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def activity_to_json(
    kind: str,
    actor: str,
    obj: str | Mapping[str, Any],
    *,
    activity_id: str,
    to: str | Sequence[str],
    cc: str | Sequence[str] = (),
    published: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An activity with our context; an embedded object loses its own ``@context``."""
    if isinstance(obj, Mapping):
        obj = {k: v for k, v in obj.items() if k != "@context"}
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "type": kind,
        "id": activity_id,
        "actor": actor,
        "object": obj,
    }
    data.update(extra)
    if published is not None:
        data["published"] = sched.format_instant(published)
    _put_audience(data, _as_tuple(to), _as_tuple(cc))
    return data


# --- proposals ------------------------------------------------------------------------------------


def _place_to_json(place: CommuneRef) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "Place"}
    if place.name:
        data["name"] = place.name
    if place.latitude is not None and place.longitude is not None:
        data["latitude"] = place.latitude
        data["longitude"] = place.longitude
    for key, value in (
        ("inseeCode", place.insee),
        ("postalCode", place.postal_code),
        ("departement", place.departement),
    ):
        if value is not None:
            data[key] = value
    return data


def _coordinate(data: Mapping[str, Any], name: str, bound: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
        raise VocabError(f"field 'location.{name}' must be a number within ±{bound:g}")
    return float(value)


def _code(data: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise VocabError(f"field 'location.{name}' is malformed")
    return value


def _place(value: object) -> CommuneRef | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, Mapping)), None)
    if not isinstance(value, Mapping):
        return None  # absent, or a Place given by reference only
    kinds = _types(value)
    if kinds and "Place" not in kinds:
        return None
    name = _string(value, "name")
    return CommuneRef(
        name=plain_text(name, TITLE_MAX),
        insee=_code(value, "inseeCode", _INSEE),
        postal_code=_code(value, "postalCode", _POSTAL),
        departement=_code(value, "departement", _DEPARTEMENT),
        latitude=_coordinate(value, "latitude", 90),
        longitude=_coordinate(value, "longitude", 180),
    )


def _intents(doc: ProposalDoc) -> tuple[dict[str, Any], dict[str, Any] | None, bool | None]:
    primary: dict[str, Any] = {"type": "Intent", "id": doc.primary_intent, "action": "deliverService"}
    unit_based: bool | None = None
    if doc.price is not None and doc.price.per_hour:
        primary["resourceQuantity"] = _quantity_json("hour", Decimal(1))
        if doc.quantity is not None:
            primary["availableQuantity"] = _quantity_json("hour", doc.quantity)
        unit_based = True
    else:
        primary["resourceQuantity"] = _quantity_json("hour", doc.quantity)
        if doc.price is not None:
            unit_based = False
    if doc.currency is None:
        return primary, None, unit_based
    reciprocal = {
        "type": "Intent",
        "id": doc.reciprocal_intent,
        "action": "transfer",
        "resourceConformsTo": _CURRENCY_IRI[doc.currency],
        "resourceQuantity": _quantity_json(
            _CURRENCY_UNIT[doc.currency], doc.price.amount if doc.price is not None else None
        ),
    }
    return primary, reciprocal, unit_based


def proposal_to_json(doc: ProposalDoc) -> dict[str, Any]:
    """The ``Proposal`` object for ``doc``, with :data:`CONTEXT`."""
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "Proposal",
        "id": doc.id,
        "attributedTo": doc.attributed_to,
        "purpose": doc.purpose,
    }
    if doc.name:
        data["name"] = doc.name
    if doc.content:
        data["content"] = doc.content
        data["mediaType"] = "text/html"
    for key, moment in (("published", doc.published), ("updated", doc.updated)):
        if moment is not None:
            data[key] = sched.format_instant(moment)
    if doc.category is not None:
        data["category"] = doc.category
    if doc.commune is not None:
        data["location"] = _place_to_json(doc.commune)
    if doc.schedule is not None:
        data.update(sched.to_json(doc.schedule))
    primary, reciprocal, unit_based = _intents(doc)
    data["publishes"] = primary
    if reciprocal is not None:
        data["reciprocal"] = reciprocal
    if unit_based is not None:
        data["unitBased"] = unit_based
    if doc.bidding_deadline is not None:
        data["biddingDeadline"] = sched.format_instant(doc.bidding_deadline)
    if doc.expires is not None:
        data["hasEnd"] = sched.format_instant(doc.expires)
    data["proposalState"] = doc.state.value
    _put_audience(data, doc.to, doc.cc)
    return data


def _hourly(amount: Decimal, hours: Decimal) -> Decimal:
    rate = amount / hours
    exponent = rate.as_tuple().exponent
    return rate.quantize(CENT) if isinstance(exponent, int) and exponent < -2 else rate


def _proposal_price(
    primary: Mapping[str, Any], reciprocal: Mapping[str, Any] | None, unit_based: bool | None
) -> tuple[Decimal | None, Price | None, Currency | None]:
    """``(hours, price, currency)`` from the intents, per the FEP's ``unitBased`` rule."""
    amount_of = _quantity(reciprocal, "resourceQuantity") if reciprocal is not None else None
    currency = _currency(reciprocal) if reciprocal is not None else None
    amount = amount_of.value if amount_of is not None else None
    unit = _quantity(primary, "resourceQuantity")
    if (
        unit_based
        and unit is not None
        and unit.unit == "hour"
        and unit.value
        and amount is not None
        and currency
    ):
        rate = _hourly(amount, unit.value)
        return _hours(_quantity(primary, "availableQuantity")), Price(rate, currency, "per_hour"), currency
    price = Price(amount, currency, "total") if amount is not None and currency is not None else None
    return _hours(unit), price, currency


def _state(data: Mapping[str, Any]) -> ProposalState:
    value = data.get("proposalState")
    if value is None:
        return ProposalState.OPEN
    try:
        return ProposalState(value)
    except ValueError:
        raise VocabError(f"field 'proposalState': unknown state {str(value)[:20]!r}") from None


def _category(data: Mapping[str, Any]) -> str | None:
    value = data.get("category")
    if value is None:
        return None
    if not isinstance(value, str) or not _SLUG.match(value) or not is_category(value):
        raise VocabError(f"field 'category': unknown service category {str(value)[:40]!r}")
    return value


def _schedule(data: Mapping[str, Any]) -> sched.Schedule | None:
    try:
        return sched.from_json(data)
    except ValueError as error:
        raise VocabError(str(error)) from None


def proposal_from_json(data: object) -> ProposalDoc:
    """Read a FEP-0837 ``Proposal`` (or a ``Create``/``Update`` embedding one).

    Required: ``id``, ``type``, ``purpose``, ``attributedTo``, ``publishes``. A proposal from software
    without our terms reads with ``category``, ``schedule``... None; amounts in a currency other than
    euros or time tokens leave ``price`` None.
    """
    doc = _unwrap(_document(data, "a proposal"), "Proposal")
    if not _types(doc):
        raise VocabError("missing required field 'type'")
    if "Proposal" not in _types(doc) and _term(doc, "publishes") is None:
        raise VocabError(f"type {_types(doc)[0]!r} is not a 'Proposal'")
    purpose = _term(doc, "purpose")
    if purpose is None:
        raise VocabError("missing required field 'purpose'")
    if purpose not in ("offer", "request"):
        raise VocabError(f"field 'purpose' must be 'offer' or 'request', not {str(purpose)[:20]!r}")
    primary = _embedded(doc, "publishes", required=True)
    assert primary is not None
    reciprocal = _embedded(doc, "reciprocal", required=False)
    quantity, price, currency = _proposal_price(primary, reciprocal, _bool(doc, "unitBased"))
    return ProposalDoc(
        id=_required_ref(doc, "id"),
        attributed_to=_required_ref(doc, "attributedTo"),
        purpose=cast(Purpose, purpose),
        name=plain_text(_string(doc, "name"), TITLE_MAX),
        content=clean_description(_string(doc, "content")),
        published=_instant(doc, "published"),
        updated=_instant(doc, "updated"),
        category=_category(doc),
        commune=_place(doc.get("location")),
        schedule=_schedule(doc),
        quantity=quantity,
        price=price,
        currency=currency,
        bidding_deadline=_instant(doc, "biddingDeadline"),
        expires=_instant(doc, "hasEnd"),
        state=_state(doc),
        to=_audience(doc, "to"),
        cc=_audience(doc, "cc"),
        raw=doc,
    )


def proposal_link_to_json(proposal_id: str, name: str) -> dict[str, Any]:
    """A FEP-0ea0 payment link to a proposal, for an actor's ``attachment``."""
    return {
        "type": "Link",
        "name": name,
        "mediaType": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "href": proposal_id,
        "rel": ["payment", VF_PROPOSAL],
    }


def proposal_links_from_actor(data: object) -> tuple[ProposalLink, ...]:
    """The proposals an actor links to with FEP-0ea0 payment links (``rel`` naming vf:Proposal).

    Other attachments are skipped; the proposals themselves are to be fetched from their origin.
    """
    actor = _document(data, "an actor")
    attachments = actor.get("attachment")
    links: list[ProposalLink] = []
    for item in attachments if isinstance(attachments, list) else [attachments]:
        if not isinstance(item, Mapping) or "Link" not in _types(item):
            continue
        rel = item.get("rel")
        rels = rel if isinstance(rel, list) else [rel]
        href = item.get("href")
        if VF_PROPOSAL in rels and _is_uri(href):
            name = item.get("name")
            links.append(
                ProposalLink(
                    cast(str, href), plain_text(name, LINK_NAME_MAX) if isinstance(name, str) else ""
                )
            )
    return tuple(links)


# --- agreements, bids -----------------------------------------------------------------------------


def _commitment_id(agreement: AgreementDoc, suffix: str) -> dict[str, str]:
    return {"id": f"{agreement.id}#{suffix}"} if agreement.id is not None else {}


def _agreement_to_json(agreement: AgreementDoc) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "Agreement"}
    if agreement.id is not None:
        data["id"] = agreement.id
    if agreement.attributed_to is not None:
        data["attributedTo"] = agreement.attributed_to
    data["stipulates"] = {
        **_commitment_id(agreement, "primary"),
        "type": "Commitment",
        "satisfies": agreement.primary_intent,
        "resourceQuantity": _quantity_json("hour", agreement.quantity),
    }
    if agreement.reciprocal_intent is not None:
        reciprocal: dict[str, Any] = {
            **_commitment_id(agreement, "reciprocal"),
            "type": "Commitment",
            "satisfies": agreement.reciprocal_intent,
        }
        price = agreement.price
        if price is not None:
            total = price if not price.per_hour else None
            if price.per_hour and agreement.quantity is not None:
                total = total_for(price, agreement.quantity)
            reciprocal["resourceConformsTo"] = _CURRENCY_IRI[price.currency]
            reciprocal["resourceQuantity"] = _quantity_json(
                _CURRENCY_UNIT[price.currency], total.amount if total is not None else None
            )
            if price.per_hour:
                reciprocal["hourlyRate"] = _number(price.amount)
        data["stipulatesReciprocal"] = reciprocal
    if agreement.schedule is not None:
        data.update(sched.to_json(agreement.schedule))
    if agreement.message:
        data["content"] = text_to_html(agreement.message)
    return data


def _agreement_from_json(data: object, *, final: bool, default_currency: Currency | None) -> AgreementDoc:
    doc = _document(data, "an agreement")
    _require_type(doc, "Agreement")
    # "stiplulates": the FEP's published Accept example misspells the term; some peers copied it.
    primary = _embedded(doc, "stipulates", required=False)
    if primary is None:
        primary = _embedded(doc, "stiplulates", required=False)
    if primary is None:
        raise VocabError("missing required field 'stipulates'")
    reciprocal = _embedded(doc, "stipulatesReciprocal", required=False)
    price: Price | None = None
    reciprocal_intent: str | None = None
    quantity = _hours(_quantity(primary, "resourceQuantity"))
    if reciprocal is not None:
        reciprocal_intent = _required_ref(reciprocal, "satisfies")
        currency = _currency(reciprocal) or default_currency
        amount = _quantity(reciprocal, "resourceQuantity")
        rate = _term(reciprocal, "hourlyRate", ("asasap:", NS))
        if currency is not None and rate is not None:
            price = Price(_decimal(rate, "hourlyRate"), currency, "per_hour")
        elif currency is not None and amount is not None and amount.value is not None:
            price = Price(amount.value, currency, "total")
    return AgreementDoc(
        primary_intent=_required_ref(primary, "satisfies"),
        id=_required_ref(doc, "id") if final else _optional_ref(doc, "id"),
        attributed_to=_optional_ref(doc, "attributedTo"),
        reciprocal_intent=reciprocal_intent,
        quantity=quantity,
        price=price,
        schedule=_schedule(doc),
        message=_text(doc.get("content"), MESSAGE_MAX),
    )


def _activity(data: object, kind: str) -> Mapping[str, Any]:
    doc = _document(data, f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}")
    _require_type(doc, kind)
    return doc


def offer_to_json(
    actor: str,
    agreement: AgreementDoc,
    to: str | Sequence[str],
    *,
    activity_id: str,
    published: datetime | None = None,
) -> dict[str, Any]:
    """``Offer(Agreement)``: answer or bid on a proposal; ``to`` should be its author only."""
    return activity_to_json(
        "Offer", actor, _agreement_to_json(agreement), activity_id=activity_id, to=to, published=published
    )


def offer_from_json(data: object, *, default_currency: Currency | None = None) -> BidOffer:
    """Read an ``Offer(Agreement)``. ``default_currency`` (the proposal's) prices a reciprocal
    commitment that does not say its currency, as in the FEP's example."""
    doc = _activity(data, "Offer")
    if not isinstance(doc.get("object"), Mapping):
        raise VocabError("field 'object' of an Offer must be an embedded Agreement")
    return BidOffer(
        id=_required_ref(doc, "id"),
        actor=_required_ref(doc, "actor"),
        agreement=_agreement_from_json(doc["object"], final=False, default_currency=default_currency),
        to=_audience(doc, "to"),
        published=_instant(doc, "published"),
    )


def accept_to_json(
    actor: str,
    offer_id: str,
    agreement: AgreementDoc,
    to: str | Sequence[str],
    *,
    activity_id: str,
    published: datetime | None = None,
) -> dict[str, Any]:
    """``Accept`` of the ``Offer`` ``offer_id`` with the final agreement (which must have an id)."""
    if agreement.id is None:
        raise ValueError("the agreement of an Accept needs an id")
    return activity_to_json(
        "Accept",
        actor,
        offer_id,
        activity_id=activity_id,
        to=to,
        published=published,
        result=_agreement_to_json(agreement),
    )


def accept_from_json(data: object, *, default_currency: Currency | None = None) -> BidAccept:
    """Read an ``Accept`` of an ``Offer`` carrying the final ``Agreement`` in ``result``."""
    doc = _activity(data, "Accept")
    if doc.get("result") is None:
        raise VocabError("missing required field 'result' of an Accept")
    return BidAccept(
        id=_required_ref(doc, "id"),
        actor=_required_ref(doc, "actor"),
        offer_id=_required_ref(doc, "object"),
        agreement=_agreement_from_json(
            _embedded(doc, "result", required=True), final=True, default_currency=default_currency
        ),
        to=_audience(doc, "to"),
        published=_instant(doc, "published"),
    )


def reject_to_json(
    actor: str,
    offer_id: str,
    to: str | Sequence[str],
    *,
    activity_id: str,
    reason: str = "",
    published: datetime | None = None,
) -> dict[str, Any]:
    """``Reject`` of the ``Offer`` ``offer_id``, with an optional plain-text reason."""
    extra = {"content": text_to_html(reason)} if reason else {}
    return activity_to_json(
        "Reject", actor, offer_id, activity_id=activity_id, to=to, published=published, **extra
    )


def reject_from_json(data: object) -> BidReject:
    """Read the ``Reject`` of an ``Offer`` (not the cancellation of an agreement)."""
    doc = _activity(data, "Reject")
    if _is_agreement_ref(doc.get("object")):
        raise VocabError("this Reject cancels an agreement; read it with agreement_event_from_json")
    return BidReject(
        id=_required_ref(doc, "id"),
        actor=_required_ref(doc, "actor"),
        offer_id=_required_ref(doc, "object"),
        reason=_text(doc.get("content"), REASON_MAX),
        to=_audience(doc, "to"),
        published=_instant(doc, "published"),
    )


def withdrawal_to_json(
    actor: str, offer_id: str, to: str | Sequence[str], *, activity_id: str, published: datetime | None = None
) -> dict[str, Any]:
    """``Undo`` of the bidder's own ``Offer``."""
    obj = {"type": "Offer", "id": offer_id, "actor": actor}
    return activity_to_json("Undo", actor, obj, activity_id=activity_id, to=to, published=published)


def withdrawal_from_json(data: object) -> BidWithdrawal:
    """Read the ``Undo`` of an ``Offer``."""
    doc = _activity(data, "Undo")
    obj = doc.get("object")
    if not isinstance(obj, Mapping) or "Offer" not in _types(obj):
        raise VocabError("field 'object' of this Undo must be an embedded Offer")
    return BidWithdrawal(
        id=_required_ref(doc, "id"),
        actor=_required_ref(doc, "actor"),
        offer_id=_required_ref(obj, "id"),
        to=_audience(doc, "to"),
        published=_instant(doc, "published"),
    )


# --- receipt, agreement lifecycle -----------------------------------------------------------------


def receipt_to_json(
    actor: str,
    receipt_id: str,
    agreement_id: str,
    to: str | Sequence[str],
    *,
    activity_id: str,
    published: datetime | None = None,
) -> dict[str, Any]:
    """The FEP's completion receipt: ``Create`` of a ``Document`` named ``Receipt``."""
    obj: dict[str, Any] = {"type": "Document", "id": receipt_id, "name": "Receipt", "context": agreement_id}
    if published is not None:
        obj["published"] = sched.format_instant(published)
    return activity_to_json("Create", actor, obj, activity_id=activity_id, to=to)


def receipt_from_json(data: object) -> Receipt:
    """Read a completion receipt; the ``Document``'s ``context`` is the agreement."""
    doc = _activity(data, "Create")
    obj = _embedded(doc, "object", required=True)
    assert obj is not None
    _require_type(obj, "Document")
    return Receipt(
        id=_required_ref(obj, "id"),
        activity_id=_required_ref(doc, "id"),
        actor=_required_ref(doc, "actor"),
        agreement=_required_ref(obj, "context"),
        to=_audience(doc, "to"),
        published=_instant(obj, "published") or _instant(doc, "published"),
    )


def _is_agreement_ref(value: object) -> bool:
    return isinstance(value, Mapping) and "Agreement" in _types(value)


def agreement_event_to_json(event: AgreementEvent) -> dict[str, Any]:
    """The activity for a confirmation, a cancellation or a dispute (see the module docstring)."""
    agreement_ref = {"type": "Agreement", "id": event.agreement}
    reason: dict[str, Any] = {"content": text_to_html(event.reason)} if event.reason else {}
    common: dict[str, Any] = {"activity_id": event.id, "to": event.to, "published": event.published}
    if event.kind == "cancel":
        return activity_to_json(
            "Reject", event.actor, agreement_ref, lateCancellation=event.late, **reason, **common
        )
    if event.kind == "dispute":
        return activity_to_json("Flag", event.actor, agreement_ref, **reason, **common)
    obj: dict[str, Any] = {
        "type": "EconomicEvent",
        "id": event.event_id,
        "attributedTo": event.actor,
        "context": event.agreement,
        "fulfills": event.agreement + "#primary",
        "action": "deliverService",
    }
    for key, value in (("provider", event.provider), ("receiver", event.receiver)):
        if value is not None:
            obj[key] = value
    if event.hours is not None:
        obj["effortQuantity"] = _quantity_json("hour", event.hours)
    obj["finished"] = True
    if event.published is not None:
        obj["published"] = sched.format_instant(event.published)
    return activity_to_json("Create", event.actor, obj, **common)


def agreement_event_from_json(data: object) -> AgreementEvent:
    """Read a confirmation (``Create(EconomicEvent)``), a cancellation (``Reject(Agreement)``) or a
    dispute (``Flag(Agreement)``)."""
    doc = _document(data, "an activity")
    kinds = set(_types(doc))
    common: dict[str, Any] = {
        "id": _required_ref(doc, "id"),
        "actor": _required_ref(doc, "actor"),
        "to": _audience(doc, "to"),
        "published": _instant(doc, "published"),
    }
    obj = doc.get("object")
    if kinds & {"Reject", "Flag"}:
        if not _is_agreement_ref(obj):
            raise VocabError("field 'object' must be an embedded Agreement reference")
        kind: AgreementEventKind = "cancel" if "Reject" in kinds else "dispute"
        return AgreementEvent(
            kind=kind,
            agreement=_ref(obj, "object"),
            reason=_text(doc.get("content"), REASON_MAX),
            late=kind == "cancel" and bool(_bool(doc, "lateCancellation")),
            **common,
        )
    if "Create" not in kinds or not isinstance(obj, Mapping) or "EconomicEvent" not in _types(obj):
        raise VocabError(
            "not an agreement event: expected Create(EconomicEvent), Reject or Flag of an Agreement"
        )
    fulfills = _term(obj, "fulfills")
    agreement = _optional_ref(obj, "context") or (
        _ref(fulfills, "fulfills").split("#", 1)[0] if fulfills else None
    )
    if agreement is None:
        raise VocabError("missing required field 'context' of the EconomicEvent")
    if common["published"] is None:
        common["published"] = _instant(obj, "published")
    return AgreementEvent(
        kind="confirm",
        agreement=agreement,
        event_id=_required_ref(obj, "id"),
        hours=_hours(_quantity(obj, "effortQuantity")),
        provider=_optional_ref(obj, "provider"),
        receiver=_optional_ref(obj, "receiver"),
        **common,
    )


# --- evaluations ----------------------------------------------------------------------------------


def _rating(value: int, aspect: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "Rating"}
    if aspect is not None:
        data["reviewAspect"] = aspect
    data.update({"ratingValue": value, "worstRating": 1, "bestRating": 5})
    return data


def evaluation_to_json(doc: EvaluationDoc) -> dict[str, Any]:
    """The ``Review`` object of an evaluation, with :data:`CONTEXT`."""
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "Review",
        "id": doc.id,
        "attributedTo": doc.attributed_to,
        "context": doc.agreement,
        "itemReviewed": doc.evaluated,
        "evaluatedRole": doc.role,
        "reviewRating": _rating(doc.overall),
        "criteria": [_rating(value, name) for name, value in doc.criteria.items()],
    }
    if doc.comment:
        data["content"] = text_to_html(doc.comment)
    if doc.published is not None:
        data["published"] = sched.format_instant(doc.published)
    _put_audience(data, doc.to, doc.cc)
    return data


def _score(value: object, name: str) -> int:
    if isinstance(value, Mapping):
        value = value.get("ratingValue")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise VocabError(f"field {name!r} must be a score from 1 to 5")
    return value


def evaluation_from_json(data: object) -> EvaluationDoc:
    """Read an evaluation ``Review`` (or a ``Create`` embedding one). Criteria that do not belong to
    the evaluated role are ignored."""
    doc = _unwrap(_document(data, "an evaluation"), "Review")
    _require_type(doc, "Review")
    role = doc.get("evaluatedRole")
    allowed = CRITERIA.get(role) if isinstance(role, str) else None
    if allowed is None:
        raise VocabError("field 'evaluatedRole' must be 'provider' or 'requester'")
    if doc.get("reviewRating") is None:
        raise VocabError("missing required field 'reviewRating'")
    raw_criteria = doc.get("criteria") or []
    if not isinstance(raw_criteria, list):
        raw_criteria = [raw_criteria]
    criteria: dict[str, int] = {}
    for item in raw_criteria:
        if not isinstance(item, Mapping):
            raise VocabError("field 'criteria' must hold Rating objects")
        aspect = item.get("reviewAspect")
        if isinstance(aspect, str) and aspect in allowed:
            criteria[aspect] = _score(item, f"criteria.{aspect}")
    return EvaluationDoc(
        id=_required_ref(doc, "id"),
        attributed_to=_required_ref(doc, "attributedTo"),
        agreement=_required_ref(doc, "context"),
        evaluated=_required_ref(doc, "itemReviewed"),
        role=cast(Role, role),
        overall=_score(doc["reviewRating"], "reviewRating"),
        criteria=criteria,
        comment=_text(doc.get("content"), COMMENT_MAX),
        published=_instant(doc, "published"),
        to=_audience(doc, "to"),
        cc=_audience(doc, "cc"),
    )


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
    kinds = set(_types(data))
    if "Proposal" in kinds:
        return "proposal"
    if "Review" in kinds:
        return "evaluation"
    obj = data.get("object")
    obj_kinds = set(_types(obj)) if isinstance(obj, Mapping) else set()
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
