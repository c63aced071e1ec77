"""Helpers for bid and agreement tests: people with a provider status and a commune, and proposal rows
(local or as received from another node) stored directly, independent of the proposal forms, and proposal
documents as another node serves them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.core import db
from node.core.timeutil import isoformat, utcnow
from node.market import schedule as sched
from node.market.availability import schedule_mask
from node.market.models import Proposal
from node.settings import Settings
from tests.support.accounts import make_user

MONTREUIL = "93048"
BAGNOLET = "93006"


def person(engine: Engine, username: str, *, status: str = "self_employed", commune: str = MONTREUIL) -> User:
    """An active account that may provide services (``status``), living in ``commune``."""
    user = make_user(engine, username)
    with db.session_scope(engine) as session:
        row = session.get(User, user.pk)
        assert row is not None
        row.provider_status = status
        row.commune_insee = commune
        session.add(row)
    user.provider_status, user.commune_insee = status, commune
    return user


def window(days: int = 5, hours: int = 2) -> sched.TimeWindow:
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0, second=0)
    return sched.TimeWindow(start, start + timedelta(hours=hours))


def make_proposal(
    session: Session,
    settings: Settings,
    author: User | None = None,
    *,
    author_uri: str | None = None,
    purpose: str = "request",
    category: str | None = "housework",
    amount: Decimal | None = Decimal("20"),
    currency: str | None = "EUR",
    basis: str | None = "per_hour",
    hours: Decimal | None = Decimal("2"),
    deadline: datetime | None = None,
    expires: datetime | None = None,
    state: str = "open",
    ap_id: str | None = None,
    commune: str = MONTREUIL,
    schedule: sched.Schedule | None = None,
) -> Proposal:
    """A proposal row: local when ``author`` is given, else received from ``author_uri``'s node."""
    if author is not None:
        author_uri = local.person(settings, author).uri
        ap_id = ap_id or settings.url(f"/proposals/{uuid.uuid4()}")
        origin = ""
    else:
        assert author_uri is not None
        ap_id = ap_id or author_uri.split("/users/")[0] + f"/proposals/{uuid.uuid4()}"
        origin = addressing.domain_of(author_uri)
    schedule = schedule or window()
    first = sched.first_window(schedule)
    stored = json.dumps(sched.to_json(schedule))
    row = Proposal(
        ap_id=ap_id,
        origin=origin,
        author_uri=author_uri,
        local_author_id=author.id if author is not None else None,
        purpose=purpose,
        title="Ménage hebdomadaire à Montreuil",
        description="<p>Deux heures de ménage.</p>",
        category=category,
        commune_insee=commune,
        commune_name="Montreuil",
        postal_code="93100",
        departement="93",
        latitude=48.86,
        longitude=2.44,
        schedule=stored,
        slots=schedule_mask(stored),
        starts_at=first.start if first else None,
        quantity_hours=hours,
        price_amount=amount,
        price_currency=currency,
        price_basis=basis if currency else None,
        bidding_deadline=deadline,
        expires_at=expires or utcnow() + timedelta(days=30),
        state=state,
    )
    session.add(row)
    session.commit()
    return row


def proposal_document(actor: str, pid: str, **changes: Any) -> dict[str, Any]:
    """A public FEP-0837 ``Proposal`` (a demand for gardening in Bagnolet) as another node serves it:
    ``pid`` by ``actor``, with ``changes``."""
    document: dict[str, Any] = {
        "type": "Proposal",
        "id": pid,
        "attributedTo": actor,
        "purpose": "request",
        "name": "Jardinage à Bagnolet",
        "content": "<p>Tailler la haie.</p>",
        "published": isoformat(utcnow() - timedelta(hours=1)),
        "category": "gardening",
        "location": {
            "type": "Place",
            "name": "Bagnolet",
            "inseeCode": "93006",
            "postalCode": "93170",
            "departement": "93",
            "latitude": 48.8688,
            "longitude": 2.4226,
        },
        "publishes": {
            "type": "Intent",
            "id": pid + "#primary",
            "action": "deliverService",
            "resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "3"},
        },
        "reciprocal": {
            "type": "Intent",
            "id": pid + "#reciprocal",
            "action": "transfer",
            "resourceConformsTo": "https://www.wikidata.org/wiki/Q4916",
            "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "60"},
        },
        "unitBased": False,
        "hasEnd": isoformat(utcnow() + timedelta(days=20)),
        "proposalState": "open",
        "to": [addressing.PUBLIC],
    }
    document.update(changes)
    return document


PROPOSAL_FORM: dict[str, Any] = {
    "purpose": "offer",
    "title": "Repassage en soirée",
    "description": "Chemises et draps.\n\nLe soir en semaine.",
    "category": "laundry-delivery",
    "postal_code": "93100",
    "commune_name": "Montreuil",
    "schedule_kind": "none",
    "quantity": "2",
    "price": "18,50",
    "price_basis": "per_hour",
    "currency": "EUR",
    "lifetime_days": "30",
}
"""The form of /proposals/new for an ironing offer in Montreuil, as a person fills it in."""


def proposal_fields(
    purpose: str, title: str, *, hours: int = 2, days: float = 4, **changes: Any
) -> dict[str, Any]:
    """The body of ``POST /api/v1/proposals``: ``hours`` of housework in Montreuil at 20 € an hour,
    starting on the hour ``days`` from now, with ``changes``."""
    start = (utcnow() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    body: dict[str, Any] = {
        "purpose": purpose,
        "title": title,
        "description": "<p>Matériel fourni.</p>",
        "category": "housework",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "schedule": {
            "kind": "window",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=hours)).isoformat(),
        },
        "quantity_hours": hours,
        "price": 20,
        "price_basis": "per_hour",
        "currency": "EUR",
    }
    body.update(changes)
    return body
