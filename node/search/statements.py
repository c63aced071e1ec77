"""The statements of a search, built once per shape of its filters and run with their values.

A search's statements depend on which filters are asked, not on their values: :func:`prepare` gives the
shape (:class:`Shape`) and the values of a search, and each statement is built once per shape
(:func:`functools.lru_cache`) with bound parameters, then run on the session's connection with the values
(:func:`run`): no statement is built, compiled or looked up in SQLAlchemy's cache by its structure on
every request.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, bindparam, false, func, null
from sqlalchemy import select as select_columns
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.market.availability import mask
from node.market.lifecycles import ProposalState
from node.market.models import Proposal, Standing
from node.market.proposals.records import Origin, blocked_origins, proposal_conditions
from node.places.gazetteer import EARTH_RADIUS_KM, Commune, bounding_box, great_circle_km
from node.search.backends import TextBackend, backend_named
from node.search.filters import SearchFilters

__all__ = [
    "BOX_CHECKED",
    "NEWEST",
    "NO_WORDS",
    "TERMS",
    "Shape",
    "Words",
    "base",
    "candidates_statement",
    "count_statement",
    "exact_statement",
    "load",
    "matching",
    "newest_count_statement",
    "open_in_box",
    "page_statement",
    "planar",
    "prepare",
    "run",
    "small_box",
    "sql_order",
    "where",
    "window_statement",
    "words_of",
]


@dataclass(frozen=True)
class Shape:
    """What the text of a search's statements depends on: the database and which filters are asked. Their
    values are bound parameters (:func:`prepare`), so that each statement is built once per shape
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
    circle: bool = False  # the radius checked by the database (great-circle distance), not only its box
    reputation: bool = False  # a minimum reputation of the author
    slots: bool = False  # an availability: parts of days of the week (``proposals.slots``)
    unrated: bool = False  # only the proposals of authors without a standing (no published evaluation)
    # more matches than a count's cap: on SQLite the reputable authors' index is not read (it would read
    # every proposal of theirs and sort them), the index of the order is walked and each row checked
    dense: bool = False


def prepare(
    filters: SearchFilters,
    centre: Commune | None,
    now: datetime,
    *,
    session: Session,
    blocks: Collection[str] | None = None,
    circle: bool = False,
) -> tuple[Shape, dict[str, Any]]:
    """The shape of the statements of ``filters`` and the values of their parameters (``blocks``: the
    blocked domains when already read; ``circle``: the radius checked by the database, not only its
    bounding box)."""
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
            if circle:
                values["radius"], shape["circle"] = float(filters.radius_km), True
                if session.get_bind().dialect.name == "sqlite":
                    _sqlite_distance(session)
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
    if (slots := mask(filters.weekday, filters.time_of_day)) is not None:
        values["slots"], shape["slots"] = slots, True
    if filters.min_reputation is not None:  # the rounded mean in hundredths (``standings``)
        values["reputation"] = math.ceil(filters.min_reputation * 100)
        shape["reputation"] = True
    blocked = blocked_origins(session=session, blocks=blocks)
    if blocked:
        values["blocked"], shape["blocked"] = blocked, True
    if centre is not None and centre.lat is not None and centre.lon is not None:
        values.update(clat=centre.lat, clon=centre.lon, shrink=math.cos(math.radians(centre.lat)))
    return Shape(session.get_bind().dialect.name, **shape), values


@lru_cache(maxsize=256)
def base(shape: Shape) -> tuple[ColumnElement[bool], ...]:
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
        latitude: Any = col(Proposal.latitude)
        longitude: Any = col(Proposal.longitude)
        if shape.circle and shape.dialect == "sqlite":
            # a wide box (many proposals): walking the date index or the text index's matches beats reading
            # the whole box through the index of positions and sorting it, which SQLite's planner prefers
            latitude, longitude = latitude + 0, longitude + 0
        conditions += [
            latitude.between(bindparam("south"), bindparam("north")),
            longitude.between(bindparam("west"), bindparam("east")),
        ]
    if shape.circle:
        conditions.append(_distance_km(shape.dialect) <= bindparam("radius"))
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
    if shape.slots:  # a schedule meeting one of the parts of days asked for (none without a schedule)
        conditions.append(col(Proposal.slots).op("&")(bindparam("slots", type_=Integer)) != 0)
    if shape.unrated:
        conditions.append(col(Proposal.author_uri).not_in(select_columns(col(Standing.uri))))
    if shape.reputation:
        minimum: Any = bindparam("reputation")
        reputable = select_columns(col(Standing.uri)).where(col(Standing.hundredths) >= minimum)
        author: Any = col(Proposal.author_uri)
        if shape.dense and shape.dialect == "sqlite":
            author = author + ""  # an expression: SQLite reads no index for it
        conditions.append(author.in_(reputable))
    return tuple(conditions)


# The words' conditions of a statement: none, the whole text, the title alone, or the text but not the
# title (the second rank of relevance); each with the backends' hints (``dense``, ``within``).
Words = tuple[str, bool, bool]  # ("", "text", "title" or "rest"; dense; within)
NO_WORDS: Words = ("", False, False)


def words_of(backend: TextBackend, words: Words) -> list[ColumnElement[bool]]:
    kind, dense, within = words
    if kind == "text":
        return [backend.matches(dense=dense, within=within)]
    if kind == "title":
        return [backend.matches(title=True, dense=dense, within=within)]
    if kind == "rest":
        return [backend.matches(dense=dense, within=within), ~backend.matches(title=True)]
    return []


def where(shape: Shape, words: Words) -> list[ColumnElement[bool]]:
    return [*base(shape), *words_of(backend_named(shape.dialect), words)]


def run(session: Session, statement: Any, values: dict[str, Any]) -> Any:
    """Run a built statement with ``values`` on the session's connection (no ORM objects)."""
    return session.connection().execute(statement, values)


# A box holding at most so many open proposals has its rows checked against the words one by one, from their
# stored terms (:meth:`TextBackend.checker`), rather than through the text index.
BOX_CHECKED = 3000


_SQLITE_DISTANCE = "asasap_km"


def _km(lat_a: float | None, lon_a: float | None, lat_b: float | None, lon_b: float | None) -> float | None:
    if lat_a is None or lon_a is None or lat_b is None or lon_b is None:
        return None  # no position: NULL, as in SQL
    return great_circle_km(lat_a, lon_a, lat_b, lon_b)


def _sqlite_distance(session: Session) -> None:
    """Give the session's SQLite connection :func:`~node.places.gazetteer.great_circle_km` as the SQL
    function ``asasap_km`` (once per connection): the database's distance is then exactly this one."""
    record = session.connection().connection
    if not record.info.get(_SQLITE_DISTANCE):
        driver = record.dbapi_connection
        assert driver is not None
        driver.create_function(_SQLITE_DISTANCE, 4, _km, deterministic=True)
        record.info[_SQLITE_DISTANCE] = True


def _distance_km(dialect: str) -> ColumnElement[float]:
    """The great-circle distance from the centre (parameters ``clat``, ``clon``) to a proposal's position,
    in km: :func:`~node.places.gazetteer.great_circle_km` on SQLite, and on PostgreSQL the same haversine
    written in SQL, its operations in the same order (the same double-precision results); NULL without a
    position."""
    lat, lon = col(Proposal.latitude), col(Proposal.longitude)
    if dialect == "sqlite":
        return func.asasap_km(bindparam("clat"), bindparam("clon"), lat, lon)
    lat1, lon1 = func.radians(bindparam("clat")), func.radians(bindparam("clon"))
    lat2, lon2 = func.radians(lat), func.radians(lon)
    half_lat, half_lon = func.sin((lat2 - lat1) / 2), func.sin((lon2 - lon1) / 2)
    h = half_lat * half_lat + func.cos(lat1) * func.cos(lat2) * (half_lon * half_lon)
    return 2 * EARTH_RADIUS_KM * func.asin(func.least(1.0, func.sqrt(h)))


def open_in_box(prefix: str = "") -> list[ColumnElement[bool]]:
    """Open proposals within the box of the parameters ``<prefix>south``, ``north``, ``west`` and
    ``east``: what the index of positions ``(state, latitude, longitude)`` answers alone."""
    return [
        col(Proposal.state) == ProposalState.OPEN.value,
        col(Proposal.latitude).between(bindparam(f"{prefix}south"), bindparam(f"{prefix}north")),
        col(Proposal.longitude).between(bindparam(f"{prefix}west"), bindparam(f"{prefix}east")),
    ]


_BOX_ROWS = select_columns(func.count()).select_from(
    select_columns(col(Proposal.id)).where(*open_in_box()).limit(bindparam("cap", type_=Integer)).subquery()
)


def small_box(south: float, north: float, west: float, east: float, *, session: Session) -> bool:
    """Whether the box holds at most :data:`BOX_CHECKED` open proposals (read from the index of positions
    alone, and no further than that)."""
    box = {"south": south, "north": north, "west": west, "east": east, "cap": BOX_CHECKED + 1}
    return int(run(session, _BOX_ROWS, box).scalar_one()) <= BOX_CHECKED


TERMS = (col(Proposal.title_terms), col(Proposal.search_terms))


@lru_cache(maxsize=256)
def candidates_statement(
    shape: Shape, words: bool, after: bool, terms: bool, authors: bool, prices: bool
) -> Any:
    """The candidates' rows, newest first; ``words``: matching the words, ``terms``: with their stored terms
    (for a :meth:`TextBackend.checker`); the author and price only when asked for (a radius reads hundreds
    of rows: each column read and converted costs)."""
    backend = backend_named(shape.dialect)
    boxed = shape.box  # the box's index narrows the rows first
    title_match: ColumnElement[bool] = words_of(backend, ("title", False, boxed))[0] if words else false()
    conditions = where(shape, ("text", False, boxed) if words else NO_WORDS)
    if after:
        conditions.append(col(Proposal.id) > bindparam("after_id"))
    columns = [
        col(Proposal.id),
        col(Proposal.author_uri) if authors else null(),
        title_match,
        col(Proposal.latitude),
        col(Proposal.longitude),
        col(Proposal.price_amount) if prices else null(),
        *(TERMS if terms else ()),
    ]
    return matching(conditions, columns).order_by(*NEWEST).limit(bindparam("candidates", type_=Integer))


# What no result shows (the text index's columns, a remote proposal's document as received): not loaded,
# and an error rather than a query per row if something reads them.
_UNSHOWN = ("search_text", "search_terms", "title_terms", "raw")
_SHOWN = tuple(defer(getattr(Proposal, name), raiseload=True) for name in _UNSHOWN)
_LOAD = select(Proposal).where(col(Proposal.id).in_(bindparam("ids", expanding=True))).options(*_SHOWN)


def load(ids: Sequence[int], *, session: Session) -> dict[int, Proposal]:
    if not ids:
        return {}
    rows = session.exec(_LOAD, params={"ids": list(ids)}).all()
    return {row.id: row for row in rows if row.id is not None}


def planar() -> ColumnElement[float | None]:
    """The squared equirectangular distance to the centre (parameters ``clat``, ``clon`` and ``shrink``,
    the cosine of its latitude) in degrees: an order the database can sort by (the same as the great
    circle's at the scale of a country), NULL without a position."""
    dx = (col(Proposal.longitude) - bindparam("clon")) * bindparam("shrink")
    dy = col(Proposal.latitude) - bindparam("clat")
    return dx * dx + dy * dy


NEWEST = (col(Proposal.published_at).desc(), col(Proposal.id).desc())


def sql_order(sort: str, centred: bool) -> list[Any]:
    distance = planar()
    nearest = [distance.is_(None), distance] if centred else []
    if sort == "date":
        return [*NEWEST]
    if sort == "distance":
        return [*nearest, *NEWEST]
    if sort == "price":
        return [col(Proposal.price_amount).is_(None), col(Proposal.price_amount), *nearest, *NEWEST]
    return [*nearest, *NEWEST]  # relevance: the title matches are a query of their own


def matching(conditions: Sequence[ColumnElement[bool]], columns: Sequence[Any]) -> Any:
    return (
        select_columns(*columns)
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
    )


@lru_cache(maxsize=256)
def count_statement(shape: Shape, words: Words, streamed: str) -> Any:
    """Count the matches up to the parameter ``cap``; ``streamed`` ("text" or "title"): the words' matches
    are read from the text index as they are needed (:meth:`TextBackend.streamed`)."""
    conditions = where(shape, words)
    found = matching(conditions, [col(Proposal.id)])
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


@lru_cache(maxsize=256)
def exact_statement(shape: Shape, words: Words, titled: bool, centred: bool, sort: str) -> Any:
    """Every match (a bounded count found them few) with what orders them: the id, whether the title
    matches (``titled``), the planar distance (``centred``), the date, the price, and when ``sort`` is by
    reputation the author's rounded mean in hundredths and count (:class:`~node.market.models.Standing`)."""
    backend = backend_named(shape.dialect)
    by_reputation = sort == "reputation"
    statement = matching(
        where(shape, words),
        [
            col(Proposal.id),
            words_of(backend, ("title", False, False))[0] if titled else false(),
            planar() if centred else null(),
            col(Proposal.published_at),
            col(Proposal.price_amount),
            col(Standing.hundredths) if by_reputation else null(),
            col(Standing.count) if by_reputation else null(),
        ],
    )
    if by_reputation:
        statement = statement.outerjoin(Standing, col(Standing.uri) == col(Proposal.author_uri))
    return statement


@lru_cache(maxsize=256)
def page_statement(shape: Shape, words: Words, sort: str, centred: bool) -> Any:
    """One page of the proposals of ``shape`` matching ``words``, read as shown (as :func:`load` reads
    them): no second round trip for their rows."""
    return (
        matching(where(shape, words), [Proposal])
        .order_by(*sql_order(sort, centred))
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
        .options(*_SHOWN)
    )


@lru_cache(maxsize=256)
def newest_count_statement(shape: Shape) -> Any | None:
    return backend_named(shape.dialect).newest_count(window_statement(shape))


@lru_cache(maxsize=256)
def window_statement(shape: Shape) -> Any:
    return matching(base(shape), [col(Proposal.id)]).order_by(*NEWEST).limit(bindparam("size", type_=Integer))
