"""The table ``match_profiles``: what ranking needs of each of this node's active providers, so that a
new demand is matched against them with one query instead of rebuilding every provider from their rows.

**Kept up to date** by :func:`refresh`, called by the matching job before each pass and by any ranking
of all providers: the rows of the people changed since the last refresh are built again
(:func:`~node.search.matching.supplies.people_of_node`), the others are left as they are. A person is
changed when, since then, their account (``users.updated_at``: profile, categories, status), one of
their proposals (``updated_at``, or an expiry passed), their matching settings, an agreement they are a
party to, or a published evaluation of them changed. The last refresh's time is kept in
``match_cursors`` (row ``profiles:<default radius>``, in seconds; changing the node's default radius
starts a full rebuild), and each refresh looks :data:`MARGIN` further back so that a transaction
committed just after the previous one read is not missed. A table rather than a cache in memory: the
web and worker processes read the same rows, and a restart costs nothing.

**Read** by :func:`nearby`: the providers whose radius box contains the demand's place and who provide a
category of the demand's group (``match_profile_categories``, which repeats what the pre-filter reads of
each provider in one index starting with the category and the latitude, narrows the rows to the
group's providers within a band as wide as the largest radius and is read from that index alone), only
those who opted in to alerts when asked; it gives their id, place, radius and row version, and
:mod:`~node.search.matching.ranking` scores them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Executable, Float, Select, String, bindparam, delete, func, insert, select
from sqlmodel import Session, col

from node.accounts.models import User
from node.catalog.categories import UnknownCategory, by_slug, in_group
from node.core.prepared import Prepared
from node.market.availability import bits
from node.market.lifecycles import EvaluationState
from node.market.models import Agreement, Evaluation, Proposal
from node.search.matching.models import (
    NEAR_INDEX,
    MatchCursor,
    MatchProfile,
    MatchProfileCategory,
    MatchSettings,
)
from node.search.matching.scoring import Need
from node.search.matching.supplies import Person, people_of_node
from node.settings import Settings

__all__ = [
    "MARGIN",
    "KM_PER_DEGREE",
    "MatchProfile",
    "Near",
    "group_slugs",
    "nearby",
    "refresh",
    "replace_all",
]

MARGIN = timedelta(minutes=2)
KM_PER_DEGREE = 111.2
_BOX_SLACK = 1.01  # the box is a little larger than the circle: the exact distance is checked after


def _cursor_name(settings: Settings) -> str:
    return f"profiles:{settings.match_radius_km}"


def _version(row: MatchProfile) -> int:
    """A digest of what scoring reads of a row besides its place and radius (a signed 64-bit integer)."""
    mean = None if row.reputation_mean is None else round(Decimal(row.reputation_mean), 2)
    price = None if row.price_amount is None else round(Decimal(row.price_amount), 2)
    last = row.last_active_at.isoformat() if row.last_active_at is not None else None
    seen = (row.provider_status, row.categories, row.terms, row.slots, mean, row.reputation_count, price)
    text = repr(seen + (row.price_currency, row.price_basis, row.completed, row.finished, last))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _row(person: Person, now: datetime) -> MatchProfile:
    supply = person.supply
    row = MatchProfile(
        user_id=person.user.pk,
        provider_status=person.user.provider_status,
        categories=" " + " ".join(sorted(supply.categories)) + " ",
        terms=" " + " ".join(sorted(supply.terms)) + " ",
        lat=supply.lat,
        lon=supply.lon,
        radius_km=supply.radius_km,
        slots=bits(supply.slots),
        reputation_mean=supply.reputation_mean,
        reputation_count=supply.reputation_count,
        price_amount=supply.price.amount if supply.price else None,
        price_currency=supply.price.currency if supply.price else None,
        price_basis=supply.price.basis if supply.price else None,
        completed=supply.completed,
        finished=supply.finished,
        last_active_at=supply.last_active,
        refreshed_at=now,
        alerts=person.alerts,
    )
    row.version = _version(row)
    if supply.lat is not None and supply.lon is not None:
        dlat = supply.radius_km * _BOX_SLACK / KM_PER_DEGREE
        cos = max(math.cos(math.radians(supply.lat)), 0.01)
        dlon = dlat / cos
        row.lat_min, row.lat_max = supply.lat - dlat, supply.lat + dlat
        row.lon_min, row.lon_max = supply.lon - dlon, supply.lon + dlon
    return row


def _local_ids(settings: Settings, uris: Iterable[str | None], *, session: Session) -> set[int]:
    prefix = settings.url("/users/")
    names = sorted({u.removeprefix(prefix) for u in uris if u and u.startswith(prefix)})
    found: set[int] = set()
    for start in range(0, len(names), 500):
        query = select(col(User.id)).where(col(User.username).in_(names[start : start + 500]))
        found |= {i for (i,) in session.execute(query).all() if i is not None}
    return found


def _changed(settings: Settings, since: datetime, now: datetime, *, session: Session) -> set[int]:
    """The people whose profile row may be out of date since ``since``."""
    ids: set[int] = set()

    def add(query: Executable) -> None:
        ids.update(i for (i,) in session.execute(query).all() if i is not None)

    add(select(col(User.id)).where(col(User.updated_at) > since))
    author = col(Proposal.local_author_id)
    add(
        select(author).where(author.is_not(None), col(Proposal.updated_at) > since)
    )  # two queries: two indexes
    add(
        select(author).where(
            author.is_not(None), col(Proposal.expires_at) > since, col(Proposal.expires_at) <= now
        )
    )
    add(select(col(MatchSettings.user_id)).where(col(MatchSettings.updated_at) > since))
    for party in (Agreement.local_provider_id, Agreement.local_requester_id):
        add(select(col(party)).where(col(Agreement.updated_at) > since))
    evaluated = session.execute(
        select(col(Evaluation.evaluated_uri), col(Evaluation.performer_uri)).where(
            col(Evaluation.published_at) > since, col(Evaluation.state) == EvaluationState.PUBLISHED.value
        )
    ).all()
    ids |= _local_ids(settings, (u for pair in evaluated for u in pair), session=session)
    return ids


def _store(people: Sequence[Person], ids: Iterable[int] | None, now: datetime, *, session: Session) -> None:
    if ids is None:
        session.execute(delete(MatchProfileCategory))
        session.execute(delete(MatchProfile))
    else:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            session.execute(delete(MatchProfileCategory).where(col(MatchProfileCategory.user_id).in_(chunk)))
            session.execute(delete(MatchProfile).where(col(MatchProfile.user_id).in_(chunk)))
    rows = [_row(person, now) for person in people]
    session.add_all(rows)
    session.flush()
    categories = [
        {"category": category, **{name: getattr(row, name) for name in _NEAR_KEYS}}
        for row in rows
        for category in row.categories.split()
    ]
    if categories:
        session.execute(insert(MatchProfileCategory), categories)


_NEAR_KEYS = tuple(c for c in NEAR_INDEX if c != "category")


def replace_all(people: Sequence[Person], now: datetime, *, session: Session) -> None:
    """Replace the whole table with the rows of ``people`` (as they are, without reading anything)."""
    _store(people, None, now, session=session)


def refresh(settings: Settings, now: datetime, *, session: Session) -> int:
    """Bring ``match_profiles`` up to date (see the module); how many people's rows were built again
    (all of them on the first call, or after the node's default radius changed)."""
    name = _cursor_name(settings)
    cursor = session.get(MatchCursor, name)
    stamp = int(now.timestamp())
    if cursor is None:
        session.execute(delete(MatchCursor).where(col(MatchCursor.name).startswith("profiles:")))
        people = people_of_node(settings, now, session=session)
        _store(people, None, now, session=session)
        session.add(MatchCursor(name=name, seen_up_to=stamp))
        session.flush()
        return len(people)
    since = datetime.fromtimestamp(cursor.seen_up_to, UTC) - MARGIN
    ids = _changed(settings, since, now, session=session)
    if ids:
        _store(people_of_node(settings, now, session=session, only=ids), ids, now, session=session)
    cursor.seen_up_to = stamp
    session.add(cursor)
    session.flush()
    return len(ids)


def group_slugs(category: str) -> list[str]:
    try:
        group = by_slug(category).group
    except UnknownCategory:
        return [category]
    return [c.slug for c in in_group(group)]


NEAR_COLUMNS = (
    MatchProfile.user_id,
    MatchProfile.version,
    MatchProfile.lat,
    MatchProfile.lon,
    MatchProfile.radius_km,
)
"""What :func:`nearby` gives of each candidate: the rest of the row is known by its version
(:mod:`node.search.matching.ranking`)."""
_NEAR_OF_CATEGORIES = tuple(
    getattr(MatchProfileCategory, name) for name in ("user_id", "version", "lat", "lon", "radius_km")
)


@lru_cache(maxsize=512)
def _query(place: str, slugs: int, alerts_only: bool) -> Prepared:
    """The pre-filter, built once per shape (``place``: ``box`` for the providers whose radius box holds
    the demand's place, ``unplaced`` for those whose place is unknown, ``any``; how many categories of
    the group, bound as ``s0``, ``s1``...; only those who opted in to alerts) and run at the driver level
    with its values bound at each call: building and compiling the expression costs more than running
    it. With categories, the providers are read from ``match_profile_categories`` alone, from its index
    (category and latitude within the band, then the box and the opt-in checked on the index's next
    columns, no table row read: a provider of several of the group's categories comes once per
    category); without, from ``match_profiles`` within the band (the index on the latitude). The box and
    the unplaced are two queries, not one with ``OR``, so that the indexes are used."""
    table: Any = MatchProfileCategory if slugs else MatchProfile
    columns = _NEAR_OF_CATEGORIES if slugs else NEAR_COLUMNS
    query = cast("Select[Any]", select(*(col(c) for c in columns)))
    lat, lon = bindparam("lat", type_=Float), bindparam("lon", type_=Float)
    band = bindparam("low", type_=Float), bindparam("high", type_=Float)
    if slugs:
        of = col(MatchProfileCategory.category).in_([bindparam(f"s{n}", type_=String) for n in range(slugs)])
        query = query.where(of)
    if place == "box":
        query = query.where(
            col(table.lat).between(*band),
            col(table.lat_min) <= lat,
            col(table.lat_max) >= lat,
            col(table.lon_min) <= lon,
            col(table.lon_max) >= lon,
        )
    elif place == "unplaced":
        query = query.where(col(table.lat).is_(None))
    if alerts_only:
        query = query.where(col(table.alerts).is_(True))
    return Prepared(query)


_WIDEST = select(func.max(col(MatchProfile.radius_km)))

Near = tuple[int, int, float | None, float | None, float]
"""A candidate of :func:`nearby`: user id, version, latitude, longitude, radius in km."""


def nearby(need: Need, *, session: Session, alerts_only: bool = False) -> list[Near]:
    """The profiles that may answer ``need``: within their radius box of its place (every one when its
    place is unknown, and those whose own place is unknown), providing a category of its group (every
    one when it has none); only those who opted in to alerts when ``alerts_only``."""
    slugs = group_slugs(need.category) if need.category is not None else []
    values: dict[str, object] = {f"s{n}": slug for n, slug in enumerate(slugs)}
    if need.lat is None or need.lon is None:
        rows = _query("any", len(slugs), alerts_only).run(session, values)
        return list({row[0]: row for row in rows}.values()) if len(slugs) > 1 else list(rows)
    band = float(session.execute(_WIDEST).scalar() or 0) * _BOX_SLACK / KM_PER_DEGREE
    box = {**values, "lat": need.lat, "lon": need.lon, "low": need.lat - band, "high": need.lat + band}
    found = _query("box", len(slugs), alerts_only).run(session, box)
    unplaced = _query("unplaced", len(slugs), alerts_only).run(session, values)
    if len(slugs) < 2:
        return list(found) + list(unplaced)
    once = {row[0]: row for row in found}  # one row per provider of several of the group's categories
    once.update((row[0], row) for row in unplaced)
    return list(once.values())
