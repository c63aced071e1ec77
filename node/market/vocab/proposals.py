"""Offers and demands on the wire: FEP-0837 ``Proposal`` objects, their commune and the FEP-0ea0
payment links that point at them from an actor (see :mod:`node.market.vocab` for the format)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from node.activitypub.addressing import is_uri, types_of
from node.catalog.categories import is_category
from node.core.text import clean_description, plain_text
from node.market import schedule as sched
from node.market.lifecycles import ProposalState
from node.market.money import CENT, Currency, Price
from node.market.vocab.common import (
    CONTEXT,
    CURRENCY_IRI,
    CURRENCY_UNIT,
    LINK_NAME_MAX,
    TITLE_MAX,
    VF_PROPOSAL,
    UnsupportedPayment,
    VocabError,
    as_document,
    hours_of,
    put_audience,
    quantity_json,
    read_audience,
    read_bool,
    read_currency,
    read_embedded,
    read_instant,
    read_quantity,
    read_schedule,
    read_string,
    read_term,
    required_ref,
    unwrap,
)
from node.places.gazetteer import Commune

Purpose = Literal["offer", "request"]


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
class ProposalLink:
    """A FEP-0ea0 payment link on an actor that points at one of its proposals."""

    href: str
    name: str = ""


# --- proposals ------------------------------------------------------------------------------------

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_INSEE = re.compile(r"^(\d{2}|2A|2B)\d{3}$")
_POSTAL = re.compile(r"^\d{5}$")
_DEPARTEMENT = re.compile(r"^(\d{2,3}|2A|2B)$")


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
    kinds = types_of(value)
    if kinds and "Place" not in kinds:
        return None
    name = read_string(value, "name")
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
        primary["resourceQuantity"] = quantity_json("hour", Decimal(1))
        if doc.quantity is not None:
            primary["availableQuantity"] = quantity_json("hour", doc.quantity)
        unit_based = True
    else:
        primary["resourceQuantity"] = quantity_json("hour", doc.quantity)
        if doc.price is not None:
            unit_based = False
    if doc.currency is None:
        return primary, None, unit_based
    reciprocal = {
        "type": "Intent",
        "id": doc.reciprocal_intent,
        "action": "transfer",
        "resourceConformsTo": CURRENCY_IRI[doc.currency],
        "resourceQuantity": quantity_json(
            CURRENCY_UNIT[doc.currency], doc.price.amount if doc.price is not None else None
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
    put_audience(data, doc.to, doc.cc)
    return data


def _hourly(amount: Decimal, hours: Decimal) -> Decimal:
    rate = amount / hours
    exponent = rate.as_tuple().exponent
    return rate.quantize(CENT) if isinstance(exponent, int) and exponent < -2 else rate


def _proposal_price(
    primary: Mapping[str, Any], reciprocal: Mapping[str, Any] | None, unit_based: bool | None
) -> tuple[Decimal | None, Price | None, Currency | None]:
    """``(hours, price, currency)`` from the intents, per the FEP's ``unitBased`` rule."""
    amount_of = read_quantity(reciprocal, "resourceQuantity") if reciprocal is not None else None
    try:
        currency = read_currency(reciprocal) if reciprocal is not None else None
    except UnsupportedPayment:
        currency = None  # shown without a price (a Mitra subscription priced in another asset)
    amount = amount_of.value if amount_of is not None else None
    unit = read_quantity(primary, "resourceQuantity")
    if (
        unit_based
        and unit is not None
        and unit.unit == "hour"
        and unit.value
        and amount is not None
        and currency
    ):
        rate = _hourly(amount, unit.value)
        return (
            hours_of(read_quantity(primary, "availableQuantity")),
            Price(rate, currency, "per_hour"),
            currency,
        )
    price = Price(amount, currency, "total") if amount is not None and currency is not None else None
    return hours_of(unit), price, currency


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


def proposal_from_json(data: object) -> ProposalDoc:
    """Read a FEP-0837 ``Proposal`` (or a ``Create``/``Update`` embedding one).

    Required: ``id``, ``type``, ``purpose``, ``attributedTo``, ``publishes``. A proposal from software
    without our terms reads with ``category``, ``schedule``... None; amounts in a currency other than
    euros or time tokens leave ``price`` None.
    """
    doc = unwrap(as_document(data, "a proposal"), "Proposal")
    if not types_of(doc):
        raise VocabError("missing required field 'type'")
    if "Proposal" not in types_of(doc) and read_term(doc, "publishes") is None:
        raise VocabError(f"type {types_of(doc)[0]!r} is not a 'Proposal'")
    purpose = read_term(doc, "purpose")
    if purpose is None:
        raise VocabError("missing required field 'purpose'")
    if purpose not in ("offer", "request"):
        raise VocabError(f"field 'purpose' must be 'offer' or 'request', not {str(purpose)[:20]!r}")
    primary = read_embedded(doc, "publishes", required=True)
    assert primary is not None
    reciprocal = read_embedded(doc, "reciprocal", required=False)
    quantity, price, currency = _proposal_price(primary, reciprocal, read_bool(doc, "unitBased"))
    return ProposalDoc(
        id=required_ref(doc, "id"),
        attributed_to=required_ref(doc, "attributedTo"),
        purpose=cast(Purpose, purpose),
        name=plain_text(read_string(doc, "name"), TITLE_MAX),
        content=clean_description(read_string(doc, "content")),
        published=read_instant(doc, "published"),
        updated=read_instant(doc, "updated"),
        category=_category(doc),
        commune=_place(doc.get("location")),
        schedule=read_schedule(doc),
        quantity=quantity,
        price=price,
        currency=currency,
        bidding_deadline=read_instant(doc, "biddingDeadline"),
        expires=read_instant(doc, "hasEnd"),
        state=_state(doc),
        to=read_audience(doc, "to"),
        cc=read_audience(doc, "cc"),
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
    actor = as_document(data, "an actor")
    attachments = actor.get("attachment")
    links: list[ProposalLink] = []
    for item in attachments if isinstance(attachments, list) else [attachments]:
        if not isinstance(item, Mapping) or "Link" not in types_of(item):
            continue
        rel = item.get("rel")
        rels = rel if isinstance(rel, list) else [rel]
        href = item.get("href")
        if VF_PROPOSAL in rels and is_uri(href):
            name = item.get("name")
            links.append(
                ProposalLink(
                    cast(str, href), plain_text(name, LINK_NAME_MAX) if isinstance(name, str) else ""
                )
            )
    return tuple(links)
