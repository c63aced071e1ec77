"""The parameters of a search, read from a query string (the search page and ``/api/v1/search`` share
them), each checked: a bad value is named in the errors and the search is not run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal, cast
from urllib.parse import urlencode

from node.catalog.categories import is_category
from node.catalog.statuses import ProviderStatus
from node.core.errors import N_
from node.market.availability import PARTS, Part
from node.market.proposals.records import MAX_PAGE, Origin
from node.market.vocab import Purpose
from node.places.gazetteer import default_gazetteer
from node.search.query import MAX_LENGTH

__all__ = [
    "MAX_RADIUS_KM",
    "ORIGINS",
    "PAYMENTS",
    "PROVIDER_STATUSES",
    "WEEKDAYS",
    "SORTS",
    "Payment",
    "SearchFilters",
    "Sort",
    "Widening",
    "parse_search",
    "widenings",
]

Sort = Literal["relevance", "distance", "date", "price", "reputation"]
SORTS: tuple[Sort, ...] = ("relevance", "distance", "date", "price", "reputation")
Payment = Literal["euros", "tokens"]
PAYMENTS: tuple[Payment, ...] = ("euros", "tokens")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # as iCalendar and schedules write them
PROVIDER_STATUSES: tuple[str, ...] = tuple(s.value for s in ProviderStatus if s is not ProviderStatus.NONE)
ORIGINS = ("all", "local", "remote")  # or one node's domain
MAX_RADIUS_KM = 1000
MAX_PRICE = Decimal(100_000)

MSG_UNKNOWN_VALUE = N_("Unknown value.")
MSG_UNKNOWN_COMMUNE = N_("No commune has this INSEE code.")
MSG_TOO_LONG = N_("At most 200 characters.")
MSG_RADIUS = N_("Give a distance from 1 to 1,000 km.")
MSG_PRICE = N_("Give an amount from 0 to 100,000 €.")
MSG_PRICE_ORDER = N_("The minimum price is above the maximum.")
MSG_DATE = N_("Give a date as YYYY-MM-DD.")
MSG_DATE_ORDER = N_("The start of the window is after its end.")
MSG_REPUTATION = N_("Give a score from 1 to 5.")
MSG_NO_CENTRE = N_("Choose a commune to search around.")

_INSEE = re.compile(r"^(\d{2}|2A|2B)\d{3}$")
_NODE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?(:\d{1,5})?$")  # a host, and a port if not 443
_DEPARTEMENT = re.compile(r"^(\d{2,3}|2A|2B)$")


@dataclass(frozen=True)
class SearchFilters:
    """A search; None (or empty) means any. ``commune`` is the centre of ``radius_km`` and of distances
    (the person's own commune when not given); prices are euros (per hour or in total, as the proposal
    says); ``date_from``/``date_to`` bound the first occurrence of the proposal's schedule; ``payment``
    keeps proposals paid in euros or in time tokens (hours of the time bank); ``provider_status`` keeps
    proposals whose author provides under that status (known for this node's people only); ``node`` keeps
    the proposals of one other node (its domain: host, and port when not the default; ``origin`` is then
    ``remote``); ``weekday``
    (0 is Monday) and ``time_of_day`` keep proposals whose schedule has an occurrence then."""

    q: str = ""
    purpose: Purpose | None = None
    category: str | None = None
    departement: str | None = None
    origin: Origin = "all"
    node: str | None = None
    commune: str | None = None
    radius_km: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    min_reputation: Decimal | None = None
    payment: Payment | None = None
    provider_status: str | None = None
    weekday: int | None = None
    time_of_day: Part | None = None
    sort: Sort = "relevance"
    page: int = 1

    def query_string(self, **changes: object) -> str:
        """These filters (with ``changes``) as a query string, for links (other page, wider radius)."""
        values = replace(self, **changes)  # type: ignore[arg-type]
        pairs = {
            "q": values.q,
            "purpose": values.purpose or "",
            "category": values.category or "",
            "departement": values.departement or "",
            "origin": values.node or ("" if values.origin == "all" else values.origin),
            "commune": values.commune or "",
            "radius": str(values.radius_km or ""),
            "date_from": values.date_from.isoformat() if values.date_from else "",
            "date_to": values.date_to.isoformat() if values.date_to else "",
            "price_min": str(values.price_min) if values.price_min is not None else "",
            "price_max": str(values.price_max) if values.price_max is not None else "",
            "min_reputation": str(values.min_reputation) if values.min_reputation is not None else "",
            "payment": values.payment or "",
            "provider_status": values.provider_status or "",
            "weekday": WEEKDAYS[values.weekday] if values.weekday is not None else "",
            "time_of_day": values.time_of_day or "",
            "sort": "" if values.sort == "relevance" else values.sort,
            "page": "" if values.page == 1 else str(values.page),
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(value: str) -> date | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2100 else None


def parse_search(params: Mapping[str, str]) -> tuple[SearchFilters, dict[str, str]]:
    """The filters of ``params`` and the errors (by parameter) of what could not be read."""
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        return params.get(name, "").strip()[:120] if name != "q" else params.get("q", "")

    def choice(name: str, allowed: tuple[str, ...]) -> str | None:
        value = text(name)
        if value and value not in allowed:
            errors[name] = MSG_UNKNOWN_VALUE
            return None
        return value or None

    def number(name: str, low: Decimal, high: Decimal, message: str) -> Decimal | None:
        value = text(name)
        if not value:
            return None
        parsed = _decimal(value)
        if parsed is None or not low <= parsed <= high:
            errors[name] = message
            return None
        return parsed

    def day(name: str) -> date | None:
        value = text(name)
        if not value:
            return None
        parsed = _date(value)
        if parsed is None:
            errors[name] = MSG_DATE
        return parsed

    q = text("q")
    if len(q) > MAX_LENGTH:
        errors["q"] = MSG_TOO_LONG
    category = text("category") or None
    if category is not None and not is_category(category):
        errors["category"] = MSG_UNKNOWN_VALUE
        category = None
    departement = text("departement").upper() or None
    if departement is not None and (
        not _DEPARTEMENT.match(departement) or default_gazetteer().departement(departement) is None
    ):
        errors["departement"] = MSG_UNKNOWN_VALUE
        departement = None
    commune = text("commune").upper() or None
    if commune is not None and (not _INSEE.match(commune) or default_gazetteer().by_insee(commune) is None):
        errors["commune"] = MSG_UNKNOWN_COMMUNE
        commune = None
    radius = number("radius", Decimal(1), Decimal(MAX_RADIUS_KM), MSG_RADIUS)
    price_min = number("price_min", Decimal(0), MAX_PRICE, MSG_PRICE)
    price_max = number("price_max", Decimal(0), MAX_PRICE, MSG_PRICE)
    if price_min is not None and price_max is not None and price_min > price_max:
        errors["price_max"] = MSG_PRICE_ORDER
    date_from, date_to = day("date_from"), day("date_to")
    if date_from is not None and date_to is not None and date_from > date_to:
        errors["date_to"] = MSG_DATE_ORDER
    origin_text = text("origin").lower()
    node = origin_text if origin_text not in ("", "local", "remote", "all") else None
    if node is not None and not _NODE.match(node):
        errors["origin"] = MSG_UNKNOWN_VALUE
        node = None
    page_text = text("page")
    page = int(page_text) if page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE else 1
    if page_text and page_text != str(page):
        errors["page"] = MSG_UNKNOWN_VALUE
    filters = SearchFilters(
        q=q[:MAX_LENGTH],
        purpose=cast(Purpose | None, choice("purpose", ("offer", "request"))),
        category=category,
        departement=departement,
        origin=cast(Origin, "remote" if node else (origin_text if origin_text in ORIGINS else "all")),
        node=node,
        commune=commune,
        radius_km=int(radius) if radius is not None else None,
        date_from=date_from,
        date_to=date_to,
        price_min=price_min,
        price_max=price_max,
        min_reputation=number("min_reputation", Decimal(1), Decimal(5), MSG_REPUTATION),
        payment=cast(Payment | None, choice("payment", PAYMENTS)),
        provider_status=choice("provider_status", PROVIDER_STATUSES),
        weekday=WEEKDAYS.index(day_code) if (day_code := choice("weekday", WEEKDAYS)) else None,
        time_of_day=cast(Part | None, choice("time_of_day", tuple(PARTS))),
        sort=cast(Sort, choice("sort", SORTS) or "relevance"),
        page=page,
    )
    return filters, errors


Widening = Literal[
    "radius",
    "origin",
    "category",
    "purpose",
    "dates",
    "availability",
    "price",
    "reputation",
    "payment",
    "status",
    "words",
]


def widenings(filters: SearchFilters) -> list[tuple[Widening, SearchFilters]]:
    """What to try when nothing matches, most useful first: each kind of widening with its filters (a
    radius four times as large up to the limit, then none; every node; every category...)."""
    found: list[tuple[Widening, SearchFilters]] = []
    first = replace(filters, page=1)
    if filters.radius_km is not None:
        larger = filters.radius_km * 4 if filters.radius_km * 4 <= MAX_RADIUS_KM else None
        found.append(("radius", replace(first, radius_km=larger)))
    if filters.origin != "all":
        found.append(("origin", replace(first, origin="all", node=None)))
    if filters.category is not None:
        found.append(("category", replace(first, category=None)))
    if filters.purpose is not None:
        found.append(("purpose", replace(first, purpose=None)))
    if filters.date_from is not None or filters.date_to is not None:
        found.append(("dates", replace(first, date_from=None, date_to=None)))
    if filters.weekday is not None or filters.time_of_day is not None:
        found.append(("availability", replace(first, weekday=None, time_of_day=None)))
    if filters.price_min is not None or filters.price_max is not None:
        found.append(("price", replace(first, price_min=None, price_max=None)))
    if filters.min_reputation is not None:
        found.append(("reputation", replace(first, min_reputation=None)))
    if filters.payment is not None:
        found.append(("payment", replace(first, payment=None)))
    if filters.provider_status is not None:
        found.append(("status", replace(first, provider_status=None)))
    if filters.q.strip():
        found.append(("words", replace(first, q="")))
    return found
