"""Bids and agreements on the wire: ``Offer``/``Accept``/``Reject``/``Undo`` of an ``Agreement``, the
completion receipt and the agreement lifecycle events (see :mod:`node.market.vocab` for the format)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from node.activitypub.addressing import types_of
from node.core.text import text_to_html
from node.market import schedule as sched
from node.market.money import Currency, Price, total_for
from node.market.vocab.common import (
    CURRENCY_IRI,
    CURRENCY_UNIT,
    MESSAGE_MAX,
    NS,
    REASON_MAX,
    UnsupportedPayment,
    VocabError,
    activity_to_json,
    as_document,
    format_number,
    hours_of,
    optional_ref,
    quantity_json,
    read_audience,
    read_bool,
    read_currency,
    read_decimal,
    read_embedded,
    read_instant,
    read_quantity,
    read_ref,
    read_schedule,
    read_term,
    read_text,
    require_type,
    required_ref,
)

AgreementEventKind = Literal["confirm", "cancel", "dispute"]


# --- documents ------------------------------------------------------------------------------------


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
    """A party confirms completion, cancels or disputes an agreement (see :mod:`node.market.vocab`).

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
        "resourceQuantity": quantity_json("hour", agreement.quantity),
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
            reciprocal["resourceConformsTo"] = CURRENCY_IRI[price.currency]
            reciprocal["resourceQuantity"] = quantity_json(
                CURRENCY_UNIT[price.currency], total.amount if total is not None else None
            )
            if price.per_hour:
                reciprocal["hourlyRate"] = format_number(price.amount)
        data["stipulatesReciprocal"] = reciprocal
    if agreement.schedule is not None:
        data.update(sched.to_json(agreement.schedule))
    if agreement.message:
        data["content"] = text_to_html(agreement.message)
    return data


def _agreement_from_json(data: object, *, final: bool, default_currency: Currency | None) -> AgreementDoc:
    doc = as_document(data, "an agreement")
    require_type(doc, "Agreement")
    # "stiplulates": the FEP's published Accept example misspells the term; some peers copied it.
    primary = read_embedded(doc, "stipulates", required=False)
    if primary is None:
        primary = read_embedded(doc, "stiplulates", required=False)
    if primary is None:
        raise VocabError("missing required field 'stipulates'")
    reciprocal = read_embedded(doc, "stipulatesReciprocal", required=False)
    price: Price | None = None
    reciprocal_intent: str | None = None
    quantity = hours_of(read_quantity(primary, "resourceQuantity"))
    if reciprocal is not None:
        reciprocal_intent = required_ref(reciprocal, "satisfies")
        currency = read_currency(reciprocal) or default_currency
        amount = read_quantity(reciprocal, "resourceQuantity")
        if currency is not None and amount is not None and amount.unit != CURRENCY_UNIT[currency]:
            raise UnsupportedPayment(f"an amount of {currency} counted in {amount.unit[:40]!r}")
        rate = read_term(reciprocal, "hourlyRate", ("asasap:", NS))
        if currency is not None and rate is not None:
            price = Price(read_decimal(rate, "hourlyRate"), currency, "per_hour")
        elif currency is not None and amount is not None and amount.value is not None:
            price = Price(amount.value, currency, "total")
    return AgreementDoc(
        primary_intent=required_ref(primary, "satisfies"),
        id=required_ref(doc, "id") if final else optional_ref(doc, "id"),
        attributed_to=optional_ref(doc, "attributedTo"),
        reciprocal_intent=reciprocal_intent,
        quantity=quantity,
        price=price,
        schedule=read_schedule(doc),
        message=read_text(doc.get("content"), MESSAGE_MAX),
    )


def _activity(data: object, kind: str) -> Mapping[str, Any]:
    doc = as_document(data, f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}")
    require_type(doc, kind)
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


def offered_proposal(data: object) -> str:
    """The id of the proposal an ``Offer(Agreement)`` answers (what its primary commitment satisfies),
    read before the rest so that an offer we cannot take can still be answered."""
    doc = _activity(data, "Offer")
    agreement = read_embedded(doc, "object", required=True)
    assert agreement is not None
    primary = read_embedded(agreement, "stipulates", required=False) or read_embedded(
        agreement, "stiplulates", required=True
    )
    assert primary is not None
    return required_ref(primary, "satisfies").split("#", 1)[0]


def offer_from_json(data: object, *, default_currency: Currency | None = None) -> BidOffer:
    """Read an ``Offer(Agreement)``. ``default_currency`` (the proposal's) prices a reciprocal
    commitment that does not say its currency, as in the FEP's example."""
    doc = _activity(data, "Offer")
    if not isinstance(doc.get("object"), Mapping):
        raise VocabError("field 'object' of an Offer must be an embedded Agreement")
    return BidOffer(
        id=required_ref(doc, "id"),
        actor=required_ref(doc, "actor"),
        agreement=_agreement_from_json(doc["object"], final=False, default_currency=default_currency),
        to=read_audience(doc, "to"),
        published=read_instant(doc, "published"),
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
        id=required_ref(doc, "id"),
        actor=required_ref(doc, "actor"),
        offer_id=required_ref(doc, "object"),
        agreement=_agreement_from_json(
            read_embedded(doc, "result", required=True), final=True, default_currency=default_currency
        ),
        to=read_audience(doc, "to"),
        published=read_instant(doc, "published"),
    )


def reject_to_json(
    actor: str,
    offer_id: str,
    to: str | Sequence[str],
    *,
    activity_id: str,
    reason: str = "",
    published: datetime | None = None,
    reasons: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``Reject`` of the ``Offer`` ``offer_id``, with an optional plain-text reason; ``reasons`` gives
    it in several languages (``contentMap``), for a peer whose reader's language we do not know."""
    extra: dict[str, Any] = {"content": text_to_html(reason)} if reason else {}
    if reasons:
        extra["contentMap"] = {language: text_to_html(text) for language, text in reasons.items()}
    return activity_to_json(
        "Reject", actor, offer_id, activity_id=activity_id, to=to, published=published, **extra
    )


def reject_from_json(data: object) -> BidReject:
    """Read the ``Reject`` of an ``Offer`` (not the cancellation of an agreement)."""
    doc = _activity(data, "Reject")
    if _is_agreement_ref(doc.get("object")):
        raise VocabError("this Reject cancels an agreement; read it with agreement_event_from_json")
    return BidReject(
        id=required_ref(doc, "id"),
        actor=required_ref(doc, "actor"),
        offer_id=required_ref(doc, "object"),
        reason=read_text(doc.get("content"), REASON_MAX),
        to=read_audience(doc, "to"),
        published=read_instant(doc, "published"),
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
    if not isinstance(obj, Mapping) or "Offer" not in types_of(obj):
        raise VocabError("field 'object' of this Undo must be an embedded Offer")
    return BidWithdrawal(
        id=required_ref(doc, "id"),
        actor=required_ref(doc, "actor"),
        offer_id=required_ref(obj, "id"),
        to=read_audience(doc, "to"),
        published=read_instant(doc, "published"),
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
    obj = read_embedded(doc, "object", required=True)
    assert obj is not None
    require_type(obj, "Document")
    return Receipt(
        id=required_ref(obj, "id"),
        activity_id=required_ref(doc, "id"),
        actor=required_ref(doc, "actor"),
        agreement=required_ref(obj, "context"),
        to=read_audience(doc, "to"),
        published=read_instant(obj, "published") or read_instant(doc, "published"),
    )


def _is_agreement_ref(value: object) -> bool:
    return isinstance(value, Mapping) and "Agreement" in types_of(value)


def agreement_event_to_json(event: AgreementEvent) -> dict[str, Any]:
    """The activity for a confirmation, a cancellation or a dispute (see :mod:`node.market.vocab`)."""
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
        obj["effortQuantity"] = quantity_json("hour", event.hours)
    obj["finished"] = True
    if event.published is not None:
        obj["published"] = sched.format_instant(event.published)
    return activity_to_json("Create", event.actor, obj, **common)


def agreement_event_from_json(data: object) -> AgreementEvent:
    """Read a confirmation (``Create(EconomicEvent)``), a cancellation (``Reject(Agreement)``) or a
    dispute (``Flag(Agreement)``)."""
    doc = as_document(data, "an activity")
    kinds = set(types_of(doc))
    common: dict[str, Any] = {
        "id": required_ref(doc, "id"),
        "actor": required_ref(doc, "actor"),
        "to": read_audience(doc, "to"),
        "published": read_instant(doc, "published"),
    }
    obj = doc.get("object")
    if kinds & {"Reject", "Flag"}:
        if not _is_agreement_ref(obj):
            raise VocabError("field 'object' must be an embedded Agreement reference")
        kind: AgreementEventKind = "cancel" if "Reject" in kinds else "dispute"
        return AgreementEvent(
            kind=kind,
            agreement=read_ref(obj, "object"),
            reason=read_text(doc.get("content"), REASON_MAX),
            late=kind == "cancel" and bool(read_bool(doc, "lateCancellation")),
            **common,
        )
    if "Create" not in kinds or not isinstance(obj, Mapping) or "EconomicEvent" not in types_of(obj):
        raise VocabError(
            "not an agreement event: expected Create(EconomicEvent), Reject or Flag of an Agreement"
        )
    fulfills = read_term(obj, "fulfills")
    agreement = optional_ref(obj, "context") or (
        read_ref(fulfills, "fulfills").split("#", 1)[0] if fulfills else None
    )
    if agreement is None:
        raise VocabError("missing required field 'context' of the EconomicEvent")
    if common["published"] is None:
        common["published"] = read_instant(obj, "published")
    return AgreementEvent(
        kind="confirm",
        agreement=agreement,
        event_id=required_ref(obj, "id"),
        hours=hours_of(read_quantity(obj, "effortQuantity")),
        provider=optional_ref(obj, "provider"),
        receiver=optional_ref(obj, "receiver"),
        **common,
    )
