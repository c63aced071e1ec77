"""Searching proposals, local and federated, in one index: full text (:mod:`node.search.backends`), then
the filters, a distance around a commune, the ranking, the count and one page of 20.

The database returns the candidates that match the text and the cheap filters, with a bounding box
around the centre when a radius is asked; the exact great-circle distance, the minimum reputation, the
order and the page are then worked out here, the same way on every database. Relevance has two ranks —
the title alone matches the whole query, or only the whole text does — so that, within a rank, nearer
comes first and then newer: relevance, then distance, then freshness.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, null
from sqlalchemy import select as select_columns
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.market.evaluations.reputation import Reputation
from node.market.evaluations.service import reputations_of
from node.market.models import Proposal
from node.market.proposals.records import ProposalFilters, listing_conditions
from node.places.gazetteer import Commune, bounding_box, default_gazetteer, great_circle_km
from node.search import availability
from node.search import query as text_query
from node.search.backends import backend_for
from node.search.filters import SearchFilters

__all__ = [
    "COUNT_CAP",
    "MAX_CANDIDATES",
    "NEAREST_BOXES",
    "PAGE_SIZE",
    "Hit",
    "Results",
    "centre_of",
    "known_nodes",
    "matching_conditions",
    "newer_matches",
    "search",
]

PAGE_SIZE = 20
MAX_CANDIDATES = 50_000  # what one search may rank; beyond, the newest are kept
COUNT_CAP = 1000  # a search counts its matches up to this many: "more than 1,000"
# the half-widths (degrees of latitude, about 11, 44, 178 and 711 km) of the boxes where a search sorted
# by distance looks for its nearest matches before sorting every match
NEAREST_BOXES = (0.1, 0.4, 1.6, 6.4)
# the windows of newest proposals (so many rows per row up to the page's end) where a search of common
# words in date order looks for its page, on a database that checks a window's rows in one index read
WALK_WINDOWS = (8, 64, 512)
WALK_MAX = 20_000


@dataclass(frozen=True)
class Hit:
    proposal: Proposal
    distance_km: float | None
    title_match: bool


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    total: int  # counted up to COUNT_CAP: when not ``exact``, more than that many match
    page: int
    pages: int  # when not ``exact``, the pages known so far
    centre: Commune | None
    exact: bool = True
    more: bool | None = None  # a next page exists (None: worked out from ``pages``)

    @property
    def has_next(self) -> bool:
        return self.more if self.more is not None else self.page < self.pages


@dataclass(frozen=True)
class _Candidate:
    id: int
    author_uri: str
    title_match: bool
    distance: float | None
    published: datetime
    price: Decimal | None


def centre_of(filters: SearchFilters, home: str | None) -> Commune | None:
    """The commune distances are measured from: the one asked for, else the person's own (``home``)."""
    code = filters.commune or home
    commune = default_gazetteer().by_insee(code) if code else None
    return commune if commune is not None and commune.has_coordinates else None


def _conditions(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> list[ColumnElement[bool]]:
    listing = ProposalFilters(
        purpose=filters.purpose,
        category=filters.category,
        departement=filters.departement,
        origin=filters.origin,
    )
    conditions = listing_conditions(listing, now, session=session)
    if filters.node is not None:
        conditions.append(col(Proposal.origin) == filters.node)
    if filters.radius_km is not None:
        if centre is None or centre.lat is None or centre.lon is None:
            conditions.append(false())
        else:
            south, north, west, east = bounding_box(centre.lat, centre.lon, filters.radius_km)
            conditions += [
                col(Proposal.latitude).between(south, north),
                col(Proposal.longitude).between(west, east),
            ]
    if filters.date_from is not None:
        start = datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        conditions.append(col(Proposal.starts_at) >= start)
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to, time.min, tzinfo=UTC) + timedelta(days=1)
        conditions.append(col(Proposal.starts_at) < end)
    if filters.provider_status is not None:  # only this node's people have a known status
        conditions.append(col(User.provider_status) == filters.provider_status)
    if filters.payment is not None or filters.price_min is not None or filters.price_max is not None:
        # prices are in the payment asked for: euros by default, hours when paid in time tokens
        conditions.append(col(Proposal.price_currency) == ("HOUR" if filters.payment == "tokens" else "EUR"))
        if filters.price_min is not None:
            conditions.append(col(Proposal.price_amount) >= filters.price_min)
        if filters.price_max is not None:
            conditions.append(col(Proposal.price_amount) <= filters.price_max)
    return conditions


def known_nodes(*, session: Session) -> list[str]:
    """The other nodes whose proposals are here (their domains, sorted): the choices of ``origin``."""
    found = select_columns(col(Proposal.origin)).where(col(Proposal.origin) != "").distinct()
    return sorted(str(o) for o in session.execute(found.order_by(col(Proposal.origin)).limit(200)).scalars())


def _distance(centre: Commune | None, lat: float | None, lon: float | None) -> float | None:
    if centre is None or centre.lat is None or centre.lon is None or lat is None or lon is None:
        return None
    return great_circle_km(centre.lat, centre.lon, lat, lon)


def _order(sort: str, has_text: bool, reputations: dict[str, Reputation]) -> object:
    far = math.inf

    def key(c: _Candidate) -> tuple[object, ...]:
        newest = (-c.published.timestamp(), -c.id)
        distance = c.distance if c.distance is not None else far
        if sort == "date":
            return newest
        if sort == "reputation":  # the better mean first, then the more evaluations; none last
            reputation = reputations.get(c.author_uri)
            mean = reputation.mean if reputation is not None else None
            count = reputation.count if reputation is not None else 0
            return (mean is None, -(mean or 0), -count, distance, *newest)
        if sort == "distance":
            return (distance, *newest)
        if sort == "price":
            return (c.price is None, c.price or Decimal(0), distance, *newest)
        return (not c.title_match if has_text else False, distance, *newest)

    return key


def matching_conditions(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> tuple[list[ColumnElement[bool]], ColumnElement[bool]]:
    """What a proposal must satisfy to match ``filters`` (the words included; the radius only as its
    bounding box), for a query that joins ``User`` on the local author; and whether its title alone
    matches the words."""
    parsed = text_query.parse(filters.q)
    conditions = _conditions(filters, centre, now, session=session)
    title_match: ColumnElement[bool] = false()
    if parsed:
        backend = backend_for(session)
        backend.prepare(session=session)
        boxed = filters.radius_km is not None  # the box's index narrows the rows first
        conditions.append(backend.matches(parsed, within=boxed))
        title_match = backend.title_matches(parsed, within=boxed)
    return conditions, title_match


def _candidates(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session, after_id: int = 0
) -> list[_Candidate]:
    conditions, title_match = matching_conditions(filters, centre, now, session=session)
    if after_id:
        conditions.append(col(Proposal.id) > after_id)
    when = filters.weekday is not None or filters.time_of_day is not None
    statement = (
        select_columns(
            col(Proposal.id),
            col(Proposal.author_uri),
            title_match,
            col(Proposal.latitude),
            col(Proposal.longitude),
            col(Proposal.published_at),
            col(Proposal.price_amount),
            col(Proposal.schedule) if when else null(),
        )
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
        .limit(MAX_CANDIDATES)
    )
    found: list[_Candidate] = []
    for row_id, author, in_title, lat, lon, published, price, schedule in session.execute(statement).all():
        if when and not availability.fits(schedule, filters.weekday, filters.time_of_day):
            continue
        distance = _distance(centre, lat, lon)
        if filters.radius_km is not None and (distance is None or distance > filters.radius_km):
            continue
        found.append(_Candidate(row_id, author, bool(in_title), distance, published, price))
    return found


def _reputable(
    candidates: list[_Candidate], minimum: Decimal, reputations: dict[str, Reputation]
) -> list[_Candidate]:
    return [c for c in candidates if (mean := reputations[c.author_uri].mean) is not None and mean >= minimum]


# What no result shows (the text index's columns, a remote proposal's document as received): not loaded,
# and an error rather than a query per row if something reads them.
_UNSHOWN = ("search_text", "search_terms", "title_terms", "raw")


def _load(ids: Sequence[int], *, session: Session) -> dict[int, Proposal]:
    if not ids:
        return {}
    unshown = [defer(getattr(Proposal, name), raiseload=True) for name in _UNSHOWN]
    rows = session.exec(select(Proposal).where(col(Proposal.id).in_(ids)).options(*unshown)).all()
    return {row.id: row for row in rows if row.id is not None}


def _planar(centre: Commune | None) -> ColumnElement[float | None] | None:
    """The squared equirectangular distance to ``centre`` in degrees: an order the database can sort by
    (the same as the great circle's at the scale of a country), NULL without a position."""
    if centre is None or centre.lat is None or centre.lon is None:
        return None
    shrink = math.cos(math.radians(centre.lat))
    dx = (col(Proposal.longitude) - centre.lon) * shrink
    dy = col(Proposal.latitude) - centre.lat
    return dx * dx + dy * dy


def _sql_order(sort: str, planar: ColumnElement[float | None] | None) -> list[Any]:
    newest = [col(Proposal.published_at).desc(), col(Proposal.id).desc()]
    nearest = [planar.is_(None), planar] if planar is not None else []
    if sort == "date":
        return newest
    if sort == "distance":
        return [*nearest, *newest]
    if sort == "price":
        return [col(Proposal.price_amount).is_(None), col(Proposal.price_amount), *nearest, *newest]
    return [*nearest, *newest]  # relevance: the title matches are a query of their own


def _matching(conditions: list[ColumnElement[bool]], columns: Sequence[Any]) -> Any:
    return (
        select_columns(*columns)
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
    )


def _count_up_to(
    conditions: list[ColumnElement[bool]], limit: int, *, session: Session, streamed: Any | None = None
) -> int:
    """How many proposals satisfy ``conditions`` (and are among ``streamed``, a subquery of matching ids
    read from the text index as they are needed), counting no further than ``limit``."""
    found = _matching(conditions, [col(Proposal.id)])
    if streamed is not None:
        found = (
            select_columns(col(Proposal.id))
            .select_from(streamed)
            .join(Proposal, col(Proposal.id) == streamed.c.rowid)
            .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
            .where(and_(*conditions))
        )
    counted = found.limit(limit).subquery()
    return int(session.execute(select_columns(func.count()).select_from(counted)).scalar_one())


def _page_ids(
    conditions: list[ColumnElement[bool]], order: list[Any], offset: int, limit: int, *, session: Session
) -> list[int]:
    statement = _matching(conditions, [col(Proposal.id)]).order_by(*order).offset(offset).limit(limit)
    return [int(row_id) for row_id in session.execute(statement).scalars()]


def _walked_page(
    conditions: list[ColumnElement[bool]],
    keep: Callable[[list[int]], set[int]],
    offset: int,
    limit: int,
    *,
    session: Session,
) -> list[int] | None:
    """The ids of one page, newest first, of the proposals satisfying ``conditions`` that ``keep`` keeps,
    read from windows of the newest proposals satisfying ``conditions`` (the date index, walked and
    stopped): exact when the window holds the page, or is every such proposal. None when the largest
    window (:data:`WALK_WINDOWS`) holds too few: the matches are too sparse for walking to pay."""
    wanted = offset + limit
    newest = [col(Proposal.published_at).desc(), col(Proposal.id).desc()]
    for factor in WALK_WINDOWS:
        size = wanted * factor
        if size > WALK_MAX:
            return None
        statement = _matching(conditions, [col(Proposal.id)]).order_by(*newest).limit(size)
        rows = [int(row_id) for row_id in session.execute(statement).scalars()]
        kept = keep(rows)
        found = [row_id for row_id in rows if row_id in kept]
        if len(found) >= wanted or len(rows) < size:
            return found[offset:wanted]
    return None


def _nearest_page(
    conditions: list[ColumnElement[bool]], centre: Commune, offset: int, limit: int, *, session: Session
) -> list[int] | None:
    """The ids of one page of the matches nearest ``centre`` (then newest), read from growing boxes around
    it (the index of positions) rather than by sorting every match; None when the largest box holds too
    few. Sound because a match outside a box of half-width ``h`` (in the planar distance of
    :func:`_planar`) is farther than ``h``: when the page's last match within the box is nearer than
    ``h``, no match outside it can come before; the unplaced (sorted last) never can either."""
    planar = _planar(centre)
    if planar is None or centre.lat is None or centre.lon is None:
        return None
    shrink = math.cos(math.radians(centre.lat))
    wanted = offset + limit
    for half in NEAREST_BOXES:
        box: list[ColumnElement[bool]] = [
            col(Proposal.latitude).between(centre.lat - half, centre.lat + half),
            col(Proposal.longitude).between(centre.lon - half / shrink, centre.lon + half / shrink),
        ]
        statement = (
            _matching(conditions + box, [col(Proposal.id), planar])
            .order_by(planar, col(Proposal.published_at).desc(), col(Proposal.id).desc())
            .limit(wanted)
        )
        rows = session.execute(statement).all()
        # a margin for the rounding of the distance computed by the database
        if len(rows) == wanted and rows[-1][1] is not None and rows[-1][1] < half * half * (1 - 1e-9):
            return [int(row_id) for row_id, _ in rows[offset:]]
    return None


def _in_database(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> Results:
    """The search when the database can do all of it (no radius, no reputation): count (up to
    :data:`COUNT_CAP`), order and page. With words and the relevance order, the proposals whose title
    matches come first: they are a page of their own query, then the others follow; each part is ordered
    by distance then freshness. When more than :data:`COUNT_CAP` proposals match, the matches are dense
    enough for the database to walk its date index and stop at the page (``dense``) rather than read and
    sort every match; ordered by distance, they are read from boxes around the centre
    (:func:`_nearest_page`)."""
    parsed = text_query.parse(filters.q)
    base = _conditions(filters, centre, now, session=session)
    backend = backend_for(session) if parsed else None
    if backend is not None:
        backend.prepare(session=session)
    planar = _planar(centre)

    def words(dense: bool, within: bool = False) -> list[ColumnElement[bool]]:
        return [backend.matches(parsed, dense=dense, within=within)] if backend is not None else []

    streamed = backend.streamed(parsed) if backend is not None else None
    counted = _count_up_to(
        base if streamed is not None else base + words(False),
        COUNT_CAP + 1,
        session=session,
        streamed=streamed,
    )
    exact = counted <= COUNT_CAP
    total = min(counted, COUNT_CAP)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages) if exact else filters.page
    offset = (page - 1) * PAGE_SIZE
    wanted = PAGE_SIZE + 1  # one more tells whether a next page exists
    order = _sql_order(filters.sort, planar)
    nearest = None
    by_distance = filters.sort == "distance" or (filters.sort == "relevance" and backend is None)
    if not exact and centre is not None and by_distance:
        # more matches than the cap, ordered by distance: the nearest are read from boxes around the centre
        nearest = _nearest_page(base + words(False, within=True), centre, offset, wanted, session=session)
    # more matches than the cap, newest first, on a database that checks a window of rows in one read of
    # its text index: the page is looked for among the newest proposals (:func:`_walked_page`)
    walk = (
        backend is not None
        and not exact
        and (filters.sort == "date" or (filters.sort == "relevance" and planar is None))
        and backend.among(parsed, [], title=False, session=session) is not None
    )

    def keep(part: str) -> Callable[[list[int]], set[int]]:
        assert backend is not None

        def kept(rows: list[int]) -> set[int]:
            found = backend.among(parsed, rows, title=part == "titles", session=session) or set()
            if part == "rest":
                found -= backend.among(parsed, rows, title=True, session=session) or set()
            return found

        return kept

    def walked(part: str, start: int, limit: int) -> list[int] | None:
        return _walked_page(base, keep(part), start, limit, session=session) if walk else None

    if nearest is not None:
        ids = [(i, False) for i in nearest]
    elif backend is None or filters.sort != "relevance":
        found = walked("all", offset, wanted)
        if found is None:
            found = _page_ids(base + words(not exact), order, offset, wanted, session=session)
        ids = [(i, False) for i in found]
    else:
        first = walked("titles", offset, wanted)
        if first is None:
            # fewer matches in all than the cap: fewer title matches too
            cap = COUNT_CAP + 1
            titles = base + [backend.title_matches(parsed)]
            titled_dense = not exact and backend.hinted and _count_up_to(titles, cap, session=session) == cap
            titled = base + [backend.title_matches(parsed, dense=titled_dense)]
            first = _page_ids(titled, order, offset, wanted, session=session)
        ids = [(i, True) for i in first]
        if len(first) < wanted:
            if first:
                before = offset
            else:
                title_stream = backend.streamed(parsed, title=True)
                title_conditions = (
                    base if title_stream is not None else base + [backend.title_matches(parsed)]
                )
                before = _count_up_to(title_conditions, offset, session=session, streamed=title_stream)
            start = max(0, offset - before)
            rest = walked("rest", start, wanted - len(first))
            if rest is None:
                others = base + words(not exact) + [~backend.title_matches(parsed)]
                rest = _page_ids(others, order, start, wanted - len(first), session=session)
            ids += [(i, False) for i in rest]
    if not ids and page > 1:  # past the last page, only known when counting to the end: show the last one
        total = _count_up_to(base + words(False), MAX_CANDIDATES, session=session)
        if not total:
            return Results([], 0, 1, 1, centre)
        last = max(1, -(-total // PAGE_SIZE))
        shown = _in_database(replace(filters, page=last), centre, now, session=session)
        return replace(shown, total=total, pages=last, exact=total < MAX_CANDIDATES, more=False)
    more = len(ids) > PAGE_SIZE
    chosen = ids[:PAGE_SIZE]
    if not exact:
        pages = max(pages, page + (1 if more else 0))
    rows = _load([row_id for row_id, _ in chosen], session=session)
    hits = [
        Hit(rows[row_id], _distance(centre, rows[row_id].latitude, rows[row_id].longitude), in_title)
        for row_id, in_title in chosen
        if row_id in rows
    ]
    return Results(hits=hits, total=total, page=page, pages=pages, centre=centre, exact=exact, more=more)


def search(filters: SearchFilters, *, session: Session, now: datetime, home: str | None = None) -> Results:
    """One page of the proposals matching ``filters`` in the asked order, with their count; ``home``
    (an INSEE code, the person's commune) is the centre when the filters name none. Without a radius
    or a minimum reputation or an availability (nor an order by reputation) the database orders and
    counts; with one, the candidates (inside the radius's bounding box) are filtered by great-circle
    distance, reputation and schedule here, then ordered the same way."""
    centre = centre_of(filters, home)
    in_python = (filters.radius_km, filters.min_reputation, filters.weekday, filters.time_of_day)
    if all(v is None for v in in_python) and filters.sort != "reputation":
        return _in_database(filters, centre, now, session=session)
    candidates = _candidates(filters, centre, now, session=session)
    reputations: dict[str, Reputation] = {}
    if (filters.min_reputation is not None or filters.sort == "reputation") and candidates:
        reputations = reputations_of({c.author_uri for c in candidates}, session=session)
    if filters.min_reputation is not None:
        candidates = _reputable(candidates, filters.min_reputation, reputations)
    order = _order(filters.sort, bool(text_query.parse(filters.q)), reputations)
    candidates.sort(key=order)  # type: ignore[arg-type]
    total = len(candidates)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    chosen = candidates[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = _load([c.id for c in chosen], session=session)
    hits = [Hit(rows[c.id], c.distance, c.title_match) for c in chosen if c.id in rows]
    return Results(hits=hits, total=total, page=page, pages=pages, centre=centre)


def newer_matches(
    filters: SearchFilters, *, session: Session, now: datetime, after_id: int, home: str | None = None
) -> list[Proposal]:
    """The proposals stored after the row ``after_id`` that match ``filters`` (every page), oldest first:
    what a saved search has not seen yet."""
    centre = centre_of(filters, home)
    candidates = _candidates(filters, centre, now, session=session, after_id=after_id)
    if filters.min_reputation is not None and candidates:
        reputations = reputations_of({c.author_uri for c in candidates}, session=session)
        candidates = _reputable(candidates, filters.min_reputation, reputations)
    rows = _load([c.id for c in candidates], session=session)
    return [rows[i] for i in sorted(rows)]
