"""Searching providers: people of this node whose profile offers services (in a category), and people of
other nodes who have an open offer here (in that category), around a commune, with their reputation.

Positions are communes' centres: a local person's profile commune, another node's person's offers'
communes (the nearest counts). Order: nearest first, then the better reputation, then the name; or the
better reputation first. A provider status is known for this node's people only: asking for one leaves
other nodes' people out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User, UserCategory
from node.activitypub.actors import local
from node.market.evaluations.reputation import Reputation
from node.market.evaluations.service import reputations_of
from node.market.lifecycles import ProposalState
from node.market.models import Proposal
from node.places.gazetteer import Commune, default_gazetteer, great_circle_km
from node.settings import Settings

__all__ = ["MAX_PROVIDERS", "Provider", "providers"]

MAX_PROVIDERS = 100


@dataclass(frozen=True)
class Provider:
    uri: str
    local: bool
    status: str  # a ProviderStatus value, '' when not known (another node's person)
    commune_name: str
    distance_km: float | None
    reputation: Reputation
    categories: tuple[str, ...]


def _distance(centre: Commune | None, lat: float | None, lon: float | None) -> float | None:
    if centre is None or centre.lat is None or centre.lon is None or lat is None or lon is None:
        return None
    return great_circle_km(centre.lat, centre.lon, lat, lon)


def _local(
    settings: Settings,
    category: str | None,
    centre: Commune | None,
    *,
    session: Session,
    provider_status: str | None = None,
    statuses: dict[str, str] | None = None,
) -> dict[str, tuple[str, float | None, set[str]]]:
    query = select(User).where(col(User.offers_services), col(User.status) == AccountStatus.ACTIVE.value)
    if provider_status:
        query = query.where(col(User.provider_status) == provider_status)
    if category:
        query = query.join(UserCategory, col(UserCategory.user_id) == col(User.id)).where(
            col(UserCategory.category) == category
        )
    people = session.exec(query).all()
    categories: dict[int, set[str]] = {}
    ids = [p.pk for p in people]
    if ids:
        for row in session.exec(select(UserCategory).where(col(UserCategory.user_id).in_(ids))).all():
            categories.setdefault(row.user_id, set()).add(row.category)
    found: dict[str, tuple[str, float | None, set[str]]] = {}
    gazetteer = default_gazetteer()
    for person in people:
        commune = gazetteer.by_insee(person.commune_insee) if person.commune_insee else None
        distance = _distance(centre, commune.lat, commune.lon) if commune is not None else None
        name = commune.name if commune is not None else person.commune_name
        uri = local.person(settings, person).uri
        found[uri] = (name, distance, categories.get(person.pk, set()))
        if statuses is not None:
            statuses[uri] = person.provider_status
    return found


def _remote(
    category: str | None, centre: Commune | None, now: datetime, *, session: Session, node: str | None = None
) -> dict[str, tuple[str, float | None, set[str]]]:
    query = select_columns(
        col(Proposal.author_uri),
        col(Proposal.commune_name),
        col(Proposal.latitude),
        col(Proposal.longitude),
        col(Proposal.category),
    ).where(
        col(Proposal.origin) != "",
        col(Proposal.purpose) == "offer",
        col(Proposal.state) == ProposalState.OPEN.value,
        (col(Proposal.expires_at).is_(None)) | (col(Proposal.expires_at) > now),
    )
    if category:
        query = query.where(col(Proposal.category) == category)
    if node is not None:
        query = query.where(col(Proposal.origin) == node)
    found: dict[str, tuple[str, float | None, set[str]]] = {}
    for uri, commune_name, lat, lon, offered in session.execute(query).all():
        distance = _distance(centre, lat, lon)
        before = found.get(uri)
        cats = (before[2] if before else set()) | ({offered} if offered else set())
        if before is None or (distance is not None and (before[1] is None or distance < before[1])):
            found[uri] = (commune_name, distance, cats)
        else:
            found[uri] = (before[0], before[1], cats)
    return found


def providers(
    settings: Settings,
    *,
    session: Session,
    now: datetime,
    category: str | None = None,
    centre: Commune | None = None,
    radius_km: int | None = None,
    provider_status: str | None = None,
    min_reputation: Decimal | None = None,
    sort: str = "distance",
    origin: str = "all",
    node: str | None = None,
) -> list[Provider]:
    """Providers offering ``category`` (any when None) within ``radius_km`` of ``centre`` (anywhere when
    either is None), under ``provider_status`` and with a mean evaluation of at least ``min_reputation``
    (any when None), nearest first (or best reputation first when ``sort`` is ``reputation``), at most
    :data:`MAX_PROVIDERS`; ``origin`` keeps this node's people (``local``), other nodes' (``remote``), or
    one node's (``node``, its domain)."""
    statuses: dict[str, str] = {}
    skip_remote = provider_status or origin == "local"
    remote = {} if skip_remote else _remote(category, centre, now, session=session, node=node)
    here = (
        {}
        if origin == "remote"
        else _local(
            settings, category, centre, session=session, provider_status=provider_status, statuses=statuses
        )
    )
    candidates = {**remote, **here}
    if radius_km is not None and centre is not None:
        candidates = {u: c for u, c in candidates.items() if c[1] is not None and c[1] <= radius_km}
    reputations = reputations_of(candidates, session=session)
    if min_reputation is not None:
        candidates = {
            u: c
            for u, c in candidates.items()
            if (m := reputations[u].mean) is not None and m >= min_reputation
        }

    def order(uri: str) -> tuple[float, ...]:
        distance = candidates[uri][1]
        far = distance if distance is not None else math.inf
        mean = reputations[uri].mean
        if sort == "reputation":
            return (mean is None, -float(mean or 0), -reputations[uri].count, far)
        return (far, -float(mean or 0))

    chosen = sorted(sorted(candidates), key=order)[:MAX_PROVIDERS]
    return [
        Provider(
            uri=uri,
            local=local.is_local(settings, uri),
            status=statuses.get(uri, ""),
            commune_name=candidates[uri][0],
            distance_km=candidates[uri][1],
            reputation=reputations[uri],
            categories=tuple(sorted(candidates[uri][2])),
        )
        for uri in chosen
    ]
