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
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, and_, bindparam, false, func, null
from sqlalchemy import select as select_columns
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.market.evaluations.reputation import Reputation
from node.market.evaluations.service import reputations_of
from node.market.lifecycles import ProposalState
from node.market.models import Proposal
from node.market.proposals.records import Origin, blocked_origins, proposal_conditions
from node.places.gazetteer import Commune, bounding_box, default_gazetteer, great_circle_km
from node.search import availability
from node.search import query as text_query
from node.search.backends import Checker, TextBackend, backend_for, backend_named
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
COUNT_CAP = 100  # a search counts its matches up to this many: "more than 100"
# the half-widths (degrees of latitude, about 3, 11, 44, 178 and 711 km) of the boxes where a search sorted
# by distance looks for its nearest matches before sorting every match
NEAREST_BOXES = (0.025, 0.1, 0.4, 1.6, 6.4)
# the windows of newest proposals (so many rows per row up to the page's end) where a search of common
# words in date order looks for its page, on a database that checks a window's rows in one index read
WALK_WINDOWS = (4, 16, 64, 512)
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


class _Candidate(NamedTuple):
    id: int
    author_uri: str
    title_match: bool
    distance: float | None
    newest: int  # the rank in the newest-first order (published, then id), 0 the newest
    price: Decimal | None


def centre_of(filters: SearchFilters, home: str | None) -> Commune | None:
    """The commune distances are measured from: the one asked for, else the person's own (``home``)."""
    code = filters.commune or home
    commune = default_gazetteer().by_insee(code) if code else None
    return commune if commune is not None and commune.has_coordinates else None


@dataclass(frozen=True)
class _Shape:
    """What the text of a search's statements depends on: the database and which filters are asked. Their
    values are bound parameters (:func:`_prepare`), so that each statement is built once per shape
    (:func:`functools.lru_cache`) and run with the values of each search."""

    dialect: str
    purpose: bool = False
    category: bool = False
    departement: bool = False
    origin: Origin = "all"
    node: bool = False
    box: bool = False
    nowhere: bool = False  # a radius without a centre: nothing matches
    date_from: bool = False
    date_to: bool = False
    status: bool = False
    priced: bool = False
    price_min: bool = False
    price_max: bool = False
    blocked: bool = False


def _prepare(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> tuple[_Shape, dict[str, Any]]:
    """The shape of the statements of ``filters`` and the values of their parameters."""
    values: dict[str, Any] = {"now": now}
    shape: dict[str, Any] = {"origin": filters.origin}
    for name in ("purpose", "category", "departement", "node"):
        if (value := getattr(filters, name)) is not None:
            values[name], shape[name] = value, True
    if filters.radius_km is not None:
        if centre is None or centre.lat is None or centre.lon is None:
            shape["nowhere"] = True
        else:
            south, north, west, east = bounding_box(centre.lat, centre.lon, filters.radius_km)
            values.update(south=south, north=north, west=west, east=east)
            shape["box"] = True
    if filters.date_from is not None:
        values["date_from"] = datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        shape["date_from"] = True
    if filters.date_to is not None:
        values["date_to"] = datetime.combine(filters.date_to, time.min, tzinfo=UTC) + timedelta(days=1)
        shape["date_to"] = True
    if filters.provider_status is not None:  # only this node's people have a known status
        values["status"], shape["status"] = filters.provider_status, True
    if filters.payment is not None or filters.price_min is not None or filters.price_max is not None:
        # prices are in the payment asked for: euros by default, hours when paid in time tokens
        values["currency"] = "HOUR" if filters.payment == "tokens" else "EUR"
        shape["priced"] = True
        for name in ("price_min", "price_max"):
            if (price := getattr(filters, name)) is not None:
                values[name], shape[name] = price, True
    blocked = blocked_origins(session=session)
    if blocked:
        values["blocked"], shape["blocked"] = blocked, True
    if centre is not None and centre.lat is not None and centre.lon is not None:
        values.update(clat=centre.lat, clon=centre.lon, shrink=math.cos(math.radians(centre.lat)))
    return _Shape(session.get_bind().dialect.name, **shape), values


@lru_cache(maxsize=256)
def _base(shape: _Shape) -> tuple[ColumnElement[bool], ...]:
    """The conditions of ``shape`` but the words (a query that joins ``User`` on the local author)."""

    def param(name: str, asked: bool) -> Any:
        return bindparam(name) if asked else None

    conditions = proposal_conditions(
        now=bindparam("now"),
        blocked=bindparam("blocked", expanding=True) if shape.blocked else None,
        purpose=param("purpose", shape.purpose),
        category=param("category", shape.category),
        departement=param("departement", shape.departement),
        origin=shape.origin,
    )
    if shape.node:
        conditions.append(col(Proposal.origin) == bindparam("node"))
    if shape.nowhere:
        conditions.append(false())
    if shape.box:
        conditions += [
            col(Proposal.latitude).between(bindparam("south"), bindparam("north")),
            col(Proposal.longitude).between(bindparam("west"), bindparam("east")),
        ]
    if shape.date_from:
        conditions.append(col(Proposal.starts_at) >= bindparam("date_from"))
    if shape.date_to:
        conditions.append(col(Proposal.starts_at) < bindparam("date_to"))
    if shape.status:
        conditions.append(col(User.provider_status) == bindparam("status"))
    if shape.priced:
        conditions.append(col(Proposal.price_currency) == bindparam("currency"))
    if shape.price_min:
        conditions.append(col(Proposal.price_amount) >= bindparam("price_min"))
    if shape.price_max:
        conditions.append(col(Proposal.price_amount) <= bindparam("price_max"))
    return tuple(conditions)


# The words' conditions of a statement: none, the whole text, the title alone, or the text but not the
# title (the second rank of relevance); each with the backends' hints (``dense``, ``within``).
Words = tuple[str, bool, bool]  # ("", "text", "title" or "rest"; dense; within)
NO_WORDS: Words = ("", False, False)


def _words(backend: TextBackend, words: Words) -> list[ColumnElement[bool]]:
    kind, dense, within = words
    if kind == "text":
        return [backend.matches(dense=dense, within=within)]
    if kind == "title":
        return [backend.matches(title=True, dense=dense, within=within)]
    if kind == "rest":
        return [backend.matches(dense=dense, within=within), ~backend.matches(title=True)]
    return []


def _where(shape: _Shape, words: Words) -> list[ColumnElement[bool]]:
    return [*_base(shape), *_words(backend_named(shape.dialect), words)]


def _rows(session: Session, statement: Any, values: dict[str, Any]) -> Any:
    """Run a built statement with ``values`` on the session's connection (no ORM objects)."""
    return session.connection().execute(statement, values)


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
        newest = (c.newest,)
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
) -> tuple[list[ColumnElement[bool]], ColumnElement[bool], dict[str, Any]]:
    """What a proposal must satisfy to match ``filters`` (the words included; the radius only as its
    bounding box), for a query that joins ``User`` on the local author; whether its title alone matches
    the words; and the values of the conditions' parameters, to run the query with."""
    shape, values = _prepare(filters, centre, now, session=session)
    parsed = text_query.parse(filters.q)
    if not parsed:
        return list(_base(shape)), false(), values
    backend = backend_for(session)
    backend.prepare(session=session)
    boxed = filters.radius_km is not None  # the box's index narrows the rows first
    values |= backend.values(parsed)
    title_match = _words(backend, ("title", False, boxed))[0]
    return _where(shape, ("text", False, boxed)), title_match, values


# A box holding at most so many open proposals has its rows checked against the words one by one, from their
# stored terms (:meth:`TextBackend.checker`), rather than through the text index.
BOX_CHECKED = 3000
_BOX_ROWS = select_columns(func.count()).select_from(
    select_columns(col(Proposal.id))
    .where(
        col(Proposal.state) == ProposalState.OPEN.value,
        col(Proposal.latitude).between(bindparam("south"), bindparam("north")),
        col(Proposal.longitude).between(bindparam("west"), bindparam("east")),
    )
    .limit(bindparam("cap", type_=Integer))
    .subquery()
)


def _small_box(south: float, north: float, west: float, east: float, *, session: Session) -> bool:
    """Whether the box holds at most :data:`BOX_CHECKED` open proposals (read from the index of positions
    alone, and no further than that)."""
    box = {"south": south, "north": north, "west": west, "east": east, "cap": BOX_CHECKED + 1}
    return int(_rows(session, _BOX_ROWS, box).scalar_one()) <= BOX_CHECKED


_TERMS = (col(Proposal.title_terms), col(Proposal.search_terms))


@lru_cache(maxsize=256)
def _candidates_statement(shape: _Shape, words: bool, when: bool, after: bool, terms: bool) -> Any:
    """The candidates' rows, newest first; ``words``: matching the words, ``terms``: with their stored terms
    (for a :meth:`TextBackend.checker`)."""
    backend = backend_named(shape.dialect)
    boxed = shape.box  # the box's index narrows the rows first
    title_match: ColumnElement[bool] = _words(backend, ("title", False, boxed))[0] if words else false()
    conditions = _where(shape, ("text", False, boxed) if words else NO_WORDS)
    if after:
        conditions.append(col(Proposal.id) > bindparam("after_id"))
    return (
        select_columns(
            col(Proposal.id),
            col(Proposal.author_uri),
            title_match,
            col(Proposal.latitude),
            col(Proposal.longitude),
            col(Proposal.price_amount),
            col(Proposal.schedule) if when else null(),
            *(_TERMS if terms else ()),
        )
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
        .limit(bindparam("candidates", type_=Integer))
    )


def _candidates(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session, after_id: int = 0
) -> list[_Candidate]:
    shape, values = _prepare(filters, centre, now, session=session)
    parsed = text_query.parse(filters.q)
    checker = None
    if parsed:
        backend = backend_for(session)
        backend.prepare(session=session)
        values |= backend.values(parsed)
        if shape.box and (checker := backend.checker(parsed, session=session)) is not None:
            box = (values["south"], values["north"], values["west"], values["east"])
            checker = checker if _small_box(*box, session=session) else None
    when = filters.weekday is not None or filters.time_of_day is not None
    statement = _candidates_statement(
        shape, bool(parsed) and checker is None, when, bool(after_id), checker is not None
    )
    values |= {"after_id": after_id, "candidates": MAX_CANDIDATES}
    found: list[_Candidate] = []
    distances: dict[tuple[float, float], float] = {}  # positions repeat: communes' centres
    radius = filters.radius_km
    for rank, (row_id, author, in_title, lat, lon, price, schedule, *terms) in enumerate(
        _rows(session, statement, values).all()
    ):
        if when and not availability.fits(schedule, filters.weekday, filters.time_of_day):
            continue
        if checker is not None:
            matched, in_title = checker(row_id, *terms)
            if not matched:
                continue
        distance: float | None = None
        if centre is not None and lat is not None and lon is not None:
            distance = distances.get((lat, lon))
            if distance is None:
                distance = distances[lat, lon] = great_circle_km(centre.lat or 0, centre.lon or 0, lat, lon)
        if radius is not None and (distance is None or distance > radius):
            continue
        found.append(_Candidate(row_id, author, bool(in_title), distance, rank, price))
    return found


def _reputable(
    candidates: list[_Candidate], minimum: Decimal, reputations: dict[str, Reputation]
) -> list[_Candidate]:
    return [c for c in candidates if (mean := reputations[c.author_uri].mean) is not None and mean >= minimum]


# What no result shows (the text index's columns, a remote proposal's document as received): not loaded,
# and an error rather than a query per row if something reads them.
_UNSHOWN = ("search_text", "search_terms", "title_terms", "raw")
_LOAD = (
    select(Proposal)
    .where(col(Proposal.id).in_(bindparam("ids", expanding=True)))
    .options(*(defer(getattr(Proposal, name), raiseload=True) for name in _UNSHOWN))
)


def _load(ids: Sequence[int], *, session: Session) -> dict[int, Proposal]:
    if not ids:
        return {}
    rows = session.exec(_LOAD, params={"ids": list(ids)}).all()
    return {row.id: row for row in rows if row.id is not None}


def _planar() -> ColumnElement[float | None]:
    """The squared equirectangular distance to the centre (parameters ``clat``, ``clon`` and ``shrink``,
    the cosine of its latitude) in degrees: an order the database can sort by (the same as the great
    circle's at the scale of a country), NULL without a position."""
    dx = (col(Proposal.longitude) - bindparam("clon")) * bindparam("shrink")
    dy = col(Proposal.latitude) - bindparam("clat")
    return dx * dx + dy * dy


_NEWEST = (col(Proposal.published_at).desc(), col(Proposal.id).desc())


def _sql_order(sort: str, centred: bool) -> list[Any]:
    planar = _planar()
    nearest = [planar.is_(None), planar] if centred else []
    if sort == "date":
        return [*_NEWEST]
    if sort == "distance":
        return [*nearest, *_NEWEST]
    if sort == "price":
        return [col(Proposal.price_amount).is_(None), col(Proposal.price_amount), *nearest, *_NEWEST]
    return [*nearest, *_NEWEST]  # relevance: the title matches are a query of their own


def _matching(conditions: Sequence[ColumnElement[bool]], columns: Sequence[Any]) -> Any:
    return (
        select_columns(*columns)
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
    )


@lru_cache(maxsize=256)
def _count_statement(shape: _Shape, words: Words, streamed: str) -> Any:
    """Count the matches up to the parameter ``cap``; ``streamed`` ("text" or "title"): the words' matches
    are read from the text index as they are needed (:meth:`TextBackend.streamed`)."""
    conditions = _where(shape, words)
    found = _matching(conditions, [col(Proposal.id)])
    if streamed:
        stream = backend_named(shape.dialect).streamed(title=streamed == "title")
        assert stream is not None
        found = (
            select_columns(col(Proposal.id))
            .select_from(stream)
            .join(Proposal, col(Proposal.id) == stream.c.rowid)
            .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
            .where(and_(*conditions))
        )
    counted = found.limit(bindparam("cap", type_=Integer)).subquery()
    return select_columns(func.count()).select_from(counted)


def _count_up_to(
    shape: _Shape, words: Words, values: dict[str, Any], limit: int, *, session: Session, streamed: str = ""
) -> int:
    """How many proposals match (``words`` or, when ``streamed``, the words read from the text index as
    they are needed), counting no further than ``limit``."""
    if streamed and backend_named(shape.dialect).streamed() is None:
        streamed, words = "", (streamed, False, False)
    statement = _count_statement(shape, words if not streamed else NO_WORDS, streamed)
    return int(_rows(session, statement, {**values, "cap": limit}).scalar_one())


@lru_cache(maxsize=256)
def _page_statement(shape: _Shape, words: Words, sort: str, centred: bool) -> Any:
    return (
        _matching(_where(shape, words), [col(Proposal.id)])
        .order_by(*_sql_order(sort, centred))
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )


def _page_ids(
    shape: _Shape,
    words: Words,
    values: dict[str, Any],
    sort: str,
    offset: int,
    limit: int,
    *,
    session: Session,
) -> list[int]:
    statement = _page_statement(shape, words, sort, "clat" in values)
    return [
        int(i)
        for i in _rows(session, statement, {**values, "offset": offset, "limit": limit}).scalars().all()
    ]


# A database whose bounded count cannot stop early first counts the matches among so many of the newest
# proposals: when more than :data:`COUNT_CAP` are there, the count is done (:meth:`TextBackend.newest_count`).
NEWEST_COUNTED = 2000


@lru_cache(maxsize=256)
def _newest_count_statement(shape: _Shape) -> Any | None:
    return backend_named(shape.dialect).newest_count(_window_statement(shape))


@lru_cache(maxsize=256)
def _window_statement(shape: _Shape) -> Any:
    return (
        _matching(_base(shape), [col(Proposal.id)]).order_by(*_NEWEST).limit(bindparam("size", type_=Integer))
    )


def _walked_page(
    shape: _Shape,
    values: dict[str, Any],
    keep: Callable[[list[int]], set[int]],
    offset: int,
    limit: int,
    *,
    session: Session,
) -> list[int] | None:
    """The ids of one page, newest first, of the proposals of ``shape`` that ``keep`` keeps, read from
    windows of the newest proposals of ``shape`` (the date index, walked and stopped): exact when the
    window holds the page, or is every such proposal. None when the largest window
    (:data:`WALK_WINDOWS`) holds too few: the matches are too sparse for walking to pay."""
    wanted = offset + limit
    for factor in WALK_WINDOWS:
        size = wanted * factor
        if size > WALK_MAX:
            return None
        rows = [
            int(i) for i in _rows(session, _window_statement(shape), {**values, "size": size}).scalars().all()
        ]
        kept = keep(rows)
        found = [row_id for row_id in rows if row_id in kept]
        if len(found) >= wanted or len(rows) < size:
            return found[offset:wanted]
    return None


# The positions (communes' centres: many proposals each) in a box, from the index of positions alone.
_POSITIONS = (
    select_columns(col(Proposal.latitude), col(Proposal.longitude))
    .where(
        col(Proposal.state) == ProposalState.OPEN.value,
        col(Proposal.latitude).between(bindparam("box_south"), bindparam("box_north")),
        col(Proposal.longitude).between(bindparam("box_west"), bindparam("box_east")),
    )
    .group_by(col(Proposal.latitude), col(Proposal.longitude))
)
NEAREST_POSITIONS = 40  # a page read from more positions than this is read by sorting every match


@lru_cache(maxsize=256)
def _position_statement(shape: _Shape, words: Words, terms: bool) -> Any:
    """The matches at one position (``lat``, ``lon``), newest first; with ``terms`` every row with its
    stored terms (for a :meth:`TextBackend.checker`), else no more than ``limit``."""
    here = [col(Proposal.latitude) == bindparam("lat"), col(Proposal.longitude) == bindparam("lon")]
    statement = _matching([*_where(shape, words), *here], [col(Proposal.id), *(_TERMS if terms else ())])
    statement = statement.order_by(*_NEWEST)
    return statement if terms else statement.limit(bindparam("limit", type_=Integer))


def _at_position(
    shape: _Shape,
    words: Words,
    values: dict[str, Any],
    lat: float,
    lon: float,
    limit: int,
    *,
    session: Session,
    checker: Checker | None,
) -> list[int]:
    """Up to ``limit`` matches at one position, newest first."""
    here = {**values, "lat": lat, "lon": lon, "limit": limit}
    if checker is None:
        return [
            int(i) for i in _rows(session, _position_statement(shape, words, False), here).scalars().all()
        ]
    found: list[int] = []
    result = _rows(session, _position_statement(shape, NO_WORDS, True), here)
    try:
        for row_id, title_terms, text_terms in result:
            if checker(row_id, title_terms, text_terms)[0]:
                found.append(int(row_id))
                if len(found) == limit:
                    break
    finally:
        result.close()
    return found


def _nearest_page(
    shape: _Shape,
    words: Words,
    values: dict[str, Any],
    offset: int,
    limit: int,
    *,
    session: Session,
    checker: Checker | None = None,
) -> list[int] | None:
    """The ids of one page of the matches nearest the centre (then newest), read position by position
    (proposals are placed at their commune's centre: many share one), nearest first, from growing boxes
    around the centre (the index of positions) rather than by sorting every match; None when the largest
    box holds too few, or the page spans too many positions (:data:`NEAREST_POSITIONS`) or two at the same
    distance. Sound because a position outside a box of half-width ``h`` (in the planar distance of
    :func:`_planar`) is farther than ``h``: when the page's last position is nearer than ``h``, no match
    outside the box can come before; the unplaced (sorted last) never can either. With a ``checker`` the
    rows of a position are checked against the words one by one."""
    if "clat" not in values:
        return None
    lat, lon, shrink = values["clat"], values["clon"], values["shrink"]
    wanted = offset + limit
    for half in NEAREST_BOXES:
        box = {
            "box_south": lat - half,
            "box_north": lat + half,
            "box_west": lon - half / shrink,
            "box_east": lon + half / shrink,
        }
        # the same planar distance as the database's (:func:`_planar`), computed the same way
        positions = sorted(
            ((p_lon - lon) * shrink * (p_lon - lon) * shrink + (p_lat - lat) * (p_lat - lat), p_lat, p_lon)
            for p_lat, p_lon in _rows(session, _POSITIONS, box).all()
        )
        found: list[int] = []
        for n, (distance, p_lat, p_lon) in enumerate(positions):
            if distance >= half * half * (1 - 1e-9) or n == NEAREST_POSITIONS:
                break
            if n + 1 < len(positions) and positions[n + 1][0] == distance:
                return None  # two positions at the same distance: their matches interleave by date
            found += _at_position(
                shape, words, values, p_lat, p_lon, wanted - len(found), session=session, checker=checker
            )
            if len(found) == wanted:
                return found[offset:]
        if len(positions) > NEAREST_POSITIONS:
            return None
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
    shape, values = _prepare(filters, centre, now, session=session)
    backend = backend_for(session) if parsed else None
    if backend is not None:
        backend.prepare(session=session)
        values |= backend.values(parsed)
    centred = "clat" in values

    def words(dense: bool, within: bool = False) -> Words:
        return ("text", dense, within) if backend is not None else NO_WORDS

    counted = 0
    newest = _newest_count_statement(shape) if backend is not None else None
    if newest is not None:
        window = {**values, "size": NEWEST_COUNTED, "cap": COUNT_CAP + 1}
        counted = int(_rows(session, newest, window).scalar_one())
    if counted <= COUNT_CAP:
        counted = _count_up_to(
            shape, words(False), values, COUNT_CAP + 1, session=session, streamed="text" if backend else ""
        )
    exact = counted <= COUNT_CAP
    total = min(counted, COUNT_CAP)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages) if exact else filters.page
    offset = (page - 1) * PAGE_SIZE
    wanted = PAGE_SIZE + 1  # one more tells whether a next page exists
    nearest = None
    by_distance = filters.sort == "distance" or (filters.sort == "relevance" and backend is None)
    if not exact and centred and by_distance:
        # more matches than the cap, ordered by distance: the nearest are read from boxes around the centre
        checker = backend.checker(parsed, session=session) if backend is not None else None
        nearest = _nearest_page(
            shape, words(False, within=True), values, offset, wanted, session=session, checker=checker
        )
    # more matches than the cap, newest first, on a database that checks a window of rows in one read of
    # its text index: the page is looked for among the newest proposals (:func:`_walked_page`)
    walk = (
        backend is not None
        and not exact
        and (filters.sort == "date" or (filters.sort == "relevance" and not centred))
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
        return _walked_page(shape, values, keep(part), start, limit, session=session) if walk else None

    def page_ids(chosen: Words, start: int, limit: int) -> list[int]:
        return _page_ids(shape, chosen, values, filters.sort, start, limit, session=session)

    if nearest is not None:
        ids = [(i, False) for i in nearest]
    elif backend is None or filters.sort != "relevance":
        found = walked("all", offset, wanted)
        if found is None:
            found = page_ids(words(not exact), offset, wanted)
        ids = [(i, False) for i in found]
    else:
        first = walked("titles", offset, wanted)
        if first is None:
            # fewer matches in all than the cap: fewer title matches too
            cap = COUNT_CAP + 1
            titled_dense = (
                not exact
                and backend.hinted
                and _count_up_to(shape, ("title", False, False), values, cap, session=session) == cap
            )
            first = page_ids(("title", titled_dense, False), offset, wanted)
        ids = [(i, True) for i in first]
        if len(first) < wanted:
            if first:
                before = offset
            else:
                before = _count_up_to(
                    shape, ("title", False, False), values, offset, session=session, streamed="title"
                )
            start = max(0, offset - before)
            rest = walked("rest", start, wanted - len(first))
            if rest is None:
                rest = page_ids(("rest", not exact, False), start, wanted - len(first))
            ids += [(i, False) for i in rest]
    if not ids and page > 1:  # past the last page, only known when counting to the end: show the last one
        total = _count_up_to(shape, words(False), values, MAX_CANDIDATES, session=session)
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
    candidates.sort(key=order)  # type: ignore[call-overload]
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
