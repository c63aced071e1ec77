"""What the marketplace vocabulary modules share: the JSON-LD context and namespaces, the error, and
the readers and writers of references, audiences, instants, quantities, units and currencies.

The documents themselves and their mapping live in :mod:`node.market.vocab.proposals`,
:mod:`node.market.vocab.agreements` and :mod:`node.market.vocab.evaluations`; :mod:`node.market.vocab`
gathers them and describes the wire format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from node.activitypub import vocab as as_vocab
from node.activitypub.addressing import AS_CONTEXT, PUBLIC, is_uri, types_of
from node.core.text import html_to_text
from node.market import schedule as sched
from node.market.money import Currency

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
CURRENCY_IRI: Mapping[str, str] = {"EUR": EURO, "HOUR": TIME_TOKEN}
CURRENCY_UNIT: Mapping[str, str] = {"EUR": "one", "HOUR": "hour"}
VF_PROPOSAL = VF + "Proposal"

TITLE_MAX = 120
MESSAGE_MAX = 2000
REASON_MAX = 500
LINK_NAME_MAX = 200

_XSD_DATETIME = "xsd:dateTime"
# Every term whose value is an id (or an embedded node) is typed "@id": a JSON-LD reader (Fedify, for one)
# then reads its string values as IRIs, not as plain strings. ``action`` and ``hasUnit`` name a term of
# their vocabulary ("deliverService", "hour"), not an IRI of ours, and stay plain.
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
        "publishes": {"@id": "vf:publishes", "@type": "@id"},
        "reciprocal": {"@id": "vf:reciprocal", "@type": "@id"},
        "resourceConformsTo": {"@id": "vf:resourceConformsTo", "@type": "@id"},
        "resourceQuantity": "vf:resourceQuantity",
        "availableQuantity": "vf:availableQuantity",
        "effortQuantity": "vf:effortQuantity",
        "stipulates": {"@id": "vf:stipulates", "@type": "@id"},
        "stipulatesReciprocal": {"@id": "vf:stipulatesReciprocal", "@type": "@id"},
        "satisfies": {"@id": "vf:satisfies", "@type": "@id"},
        "fulfills": {"@id": "vf:fulfills", "@type": "@id"},
        "provider": {"@id": "vf:provider", "@type": "@id"},
        "receiver": {"@id": "vf:receiver", "@type": "@id"},
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
        # groups (FEP-1b12 micro-organisations): who carries out a group's agreement
        "performer": {"@id": "asasap:performer", "@type": "@id"},
        "clauseOf": {"@id": "vf:clauseOf", "@type": "@id"},
        "inScopeOf": {"@id": "vf:inScopeOf", "@type": "@id"},
    },
]


class VocabError(as_vocab.VocabError):
    """A marketplace document that cannot be read as what it should be; the message names the field.

    A subclass of the ActivityPub layer's error, so the inbox handles both alike.
    """


# --- readers ----------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^\d{1,9}(\.\d{1,12})?$")
_UNIT_PREFIXES = ("om2:", "vf:", OM2, VF)


def as_document(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise VocabError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def require_type(data: Mapping[str, Any], expected: str) -> None:
    kinds = types_of(data)
    if not kinds:
        raise VocabError("missing required field 'type'")
    if expected not in kinds:
        raise VocabError(f"type {kinds[0]!r} is not {expected!r}")


def read_ref(value: object, name: str) -> str:
    """An id given as a string, an object with an ``id`` or a one-element list of either."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("id")
    if not is_uri(value):
        raise VocabError(f"field {name!r} must be an http(s) URI")
    return cast(str, value)


def required_ref(data: Mapping[str, Any], name: str) -> str:
    if data.get(name) is None:
        raise VocabError(f"missing required field {name!r}")
    return read_ref(data[name], name)


def optional_ref(data: Mapping[str, Any], name: str) -> str | None:
    return None if data.get(name) is None else read_ref(data[name], name)


def read_audience(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
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


def read_string(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise VocabError(f"field {name!r} must be a string")
    return value


def read_instant(data: Mapping[str, Any], name: str) -> datetime | None:
    if data.get(name) is None:
        return None
    try:
        return sched.parse_instant(data[name], name)
    except ValueError as error:
        raise VocabError(str(error)) from None


def read_bool(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise VocabError(f"field {name!r} must be true or false")
    return value


def read_term(data: Mapping[str, Any], name: str, prefixes: Sequence[str] = ("vf:", VF)) -> Any:
    """A term under its plain name, else under a prefix or its full IRI (for peers that did not
    define the term in their context)."""
    if name in data:
        return data[name]
    for prefix in prefixes:
        if prefix + name in data:
            return data[prefix + name]
    return None


def read_decimal(value: object, name: str) -> Decimal:
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
class Quantity:
    unit: str
    value: Decimal | None


def _unit_name(value: str) -> str:
    for prefix in _UNIT_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def read_quantity(data: Mapping[str, Any], name: str) -> Quantity | None:
    raw = read_term(data, name)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise VocabError(f"field {name!r} must be an object with 'hasUnit'")
    unit = read_term(raw, "hasUnit", ("om2:", "vf:", OM2, VF))
    if not isinstance(unit, str) or not unit:
        raise VocabError(f"missing required field 'hasUnit' of {name!r}")
    value = read_term(raw, "hasNumericalValue", ("om2:", "vf:", OM2, VF))
    return Quantity(
        _unit_name(unit), None if value is None else read_decimal(value, f"{name}.hasNumericalValue")
    )


# Durations in the units peers use, in hours: om2 names ``second-Time``/``minute-Time``, the plain names
# the FEP and ValueFlows write (Mitra counts the time of its subscriptions in ``second``).
_SECONDS_PER_UNIT: Mapping[str, int] = {
    "second": 1,
    "second-Time": 1,
    "minute": 60,
    "minute-Time": 60,
    "hour": 3600,
}
_HOURS_PRECISION = Decimal("0.01")


def hours_of(quantity: Quantity | None) -> Decimal | None:
    """A duration in hours, converted from seconds or minutes (to the hundredth), else None."""
    if quantity is None or quantity.value is None or quantity.unit not in _SECONDS_PER_UNIT:
        return None
    seconds = _SECONDS_PER_UNIT[quantity.unit]
    if seconds == 3600:
        return quantity.value
    return (quantity.value * seconds / 3600).quantize(_HOURS_PRECISION).normalize()


class UnsupportedPayment(VocabError):
    """A payment in something this node does not handle (an asset other than euros and time tokens, or
    an amount counted in another unit): the offer is answered with a ``Reject``, not stored."""


def read_currency(data: Mapping[str, Any]) -> Currency | None:
    """The currency named by ``resourceConformsTo``; None when it names none; :class:`UnsupportedPayment`
    when it names an asset we do not handle (Mitra names a CAIP-19 asset, counted in its smallest
    unit)."""
    conforms = read_term(data, "resourceConformsTo")
    if isinstance(conforms, Mapping):
        conforms = conforms.get("id")
    if conforms is None:
        return None
    if conforms in _EURO_IRIS:
        return "EUR"
    if conforms in (TIME_TOKEN, "asasap:TimeToken"):
        return "HOUR"
    raise UnsupportedPayment(f"payment in {str(conforms)[:100]!r}, which this node does not handle")


def read_embedded(data: Mapping[str, Any], name: str, *, required: bool) -> Mapping[str, Any] | None:
    """An embedded object (the first of a list); an id alone is not enough here."""
    value = read_term(data, name)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, Mapping)), None)
    if value is None:
        if required:
            raise VocabError(f"missing required field {name!r}")
        return None
    if not isinstance(value, Mapping):
        raise VocabError(f"field {name!r} must be an embedded object")
    return value


def unwrap(data: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The object of a ``Create``/``Update`` wrapping a ``kind`` (or, for a proposal, anything that
    ``publishes``), else ``data`` itself."""
    inner = data.get("object")
    if set(types_of(data)) & {"Create", "Update"} and isinstance(inner, Mapping):
        if kind in types_of(inner) or (kind == "Proposal" and read_term(inner, "publishes") is not None):
            return inner
    return data


def read_text(html: object, limit: int) -> str:
    return html_to_text(html, limit) if isinstance(html, str) else ""


def read_schedule(data: Mapping[str, Any]) -> sched.Schedule | None:
    try:
        return sched.from_json(data)
    except ValueError as error:
        raise VocabError(str(error)) from None


# --- writers ----------------------------------------------------------------------------------------


def format_number(value: Decimal) -> str:
    return format(value, "f")


def quantity_json(unit: str, value: Decimal | None) -> dict[str, str]:
    result = {"hasUnit": unit}
    if value is not None:
        result["hasNumericalValue"] = format_number(value)
    return result


def put_audience(data: dict[str, Any], to: Sequence[str], cc: Sequence[str] = ()) -> None:
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
    put_audience(data, _as_tuple(to), _as_tuple(cc))
    return data
