"""The one mapping of what a proposal says to the columns that store it, for ours
(:mod:`node.market.proposals.service`) and for those other nodes send
(:mod:`node.market.proposals.federation`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from node.core.textsearch import terms
from node.market import schedule as sched
from node.market.availability import schedule_mask
from node.market.money import Price
from node.market.proposals.records import search_text_for
from node.places.gazetteer import Commune


def commune_columns(commune: Commune, postal_code: str | None = None) -> dict[str, Any]:
    """A commune of the gazetteer: its INSEE code, name, ``postal_code`` when it is one of the commune's
    (else its first), département, and its centre rounded to 0.01° (never a finer position)."""
    code = (
        postal_code
        if postal_code in commune.postal_codes
        else (commune.postal_codes[0] if commune.postal_codes else "")
    )
    return {
        "commune_insee": commune.insee,
        "commune_name": commune.name,
        "postal_code": code,
        "departement": commune.departement,
        "latitude": round(commune.lat, 2) if commune.lat is not None else None,
        "longitude": round(commune.lon, 2) if commune.lon is not None else None,
    }


def content_columns(
    *,
    title: str,
    description: str,
    category: str | None,
    place: dict[str, Any],
    schedule: sched.Schedule | None,
    quantity: Decimal | None,
    price: Price | None,
    currency: str | None,
    basis: str | None,
    bidding_deadline: datetime | None,
    expires_at: datetime | None,
    author_name: str = "",
) -> dict[str, Any]:
    """The columns of a proposal's content (``place`` from :func:`commune_columns` or as received),
    with what full-text search indexes (the author's name among it) and the parts of the days of the
    week its schedule meets (``slots``, what the availability filter reads)."""
    search_text = search_text_for(
        title,
        description,
        category=category,
        commune_name=str(place.get("commune_name") or ""),
        departement=str(place.get("departement") or ""),
        author_name=author_name,
    )
    first = sched.first_window(schedule) if schedule is not None else None
    stored = json.dumps(sched.to_json(schedule)) if schedule is not None else None
    return {
        "title": title,
        "description": description,
        "category": category,
        **place,
        "schedule": stored,
        "slots": schedule_mask(stored),
        "starts_at": first.start.astimezone(UTC) if first is not None else None,
        "quantity_hours": quantity,
        "price_amount": price.amount if price is not None else None,
        "price_currency": currency,
        "price_basis": basis,
        "bidding_deadline": bidding_deadline.astimezone(UTC) if bidding_deadline is not None else None,
        "expires_at": expires_at,
        "search_text": search_text,
        "search_terms": terms(search_text),
        "title_terms": terms(title),
    }
