"""Searching proposals, local and federated, in one index: full text (:mod:`node.search.backends`), then
the filters, a distance around a commune, the ranking, the count and one page of 20.

The database counts the matches and finds the page (:func:`_in_database`), every filter included (a
minimum reputation from the authors' standings, an availability from the proposals' parts of days); with
a radius whose box holds few proposals, it returns the candidates that match inside the box, and the
exact great-circle distance, the order and the page are worked out here, the same way on every
database. Relevance has two ranks — the title alone matches the whole query, or only the whole text
does — so that, within a rank, nearer comes first and then newer: relevance, then distance, then
freshness.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, false
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from node.market.evaluations import standings
from node.market.models import Proposal
from node.market.proposals.records import DOMAIN_BLOCKS
from node.places.gazetteer import Commune, bounding_box, default_gazetteer, great_circle_km
from node.search import nearest
from node.search import query as text_query
from node.search.backends import Checker, TextBackend, backend_for, backend_named
from node.search.by_reputation import reputation_page
from node.search.filters import SearchFilters
from node.search.query import TextQuery
from node.search.statements import (
    NO_WORDS,
    Shape,
    Words,
    base,
    candidates_statement,
    count_statement,
    exact_statement,
    load,
    newest_count_statement,
    page_statement,
    prepare,
    run,
    small_box,
    where,
    window_statement,
    words_of,
)

__all__ = [
    "COUNT_CAP",
    "MAX_CANDIDATES",
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
# the windows of newest proposals (so many rows per row up to the page's end) where a search of common
# words in date order looks for its page, on a database that checks a window's rows in one index read
WALK_WINDOWS = (4, 16, 64, 512)
WALK_MAX = 20_000
# A database whose bounded count cannot stop early first counts the matches among so many of the newest
# proposals: when more than :data:`COUNT_CAP` are there, the count is done (:meth:`TextBackend.newest_count`).
NEWEST_COUNTED = 1000


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


def known_nodes(*, session: Session) -> list[str]:
    """The other nodes whose proposals are here (their domains, sorted): the choices of ``origin``."""
    found = select_columns(col(Proposal.origin)).where(col(Proposal.origin) != "").distinct()
    return sorted(str(o) for o in session.execute(found.order_by(col(Proposal.origin)).limit(200)).scalars())


def _distance(centre: Commune | None, lat: float | None, lon: float | None) -> float | None:
    if centre is None or centre.lat is None or centre.lon is None or lat is None or lon is None:
        return None
    return great_circle_km(centre.lat, centre.lon, lat, lon)


def _order(sort: str, has_text: bool, standing: dict[str, tuple[int, int]]) -> object:
    """The order of the candidates; ``standing``: the authors' rounded mean in hundredths and number of
    evaluations (:func:`~node.market.evaluations.standings.kept`), when sorted by reputation."""
    far = math.inf

    def key(c: _Candidate) -> tuple[object, ...]:
        newest = (c.newest,)
        distance = c.distance if c.distance is not None else far
        if sort == "date":
            return newest
        if sort == "reputation":  # the better mean first, then the more evaluations; none last
            mean, count = standing.get(c.author_uri, (None, 0))
            return (mean is None, -(mean or 0), -count, distance, *newest)
        if sort == "distance":
            return (distance, *newest)
        if sort == "price":
            return (c.price is None, c.price or Decimal(0), distance, *newest)
        return (not c.title_match if has_text else False, distance, *newest)

    return key


def _prepared(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session, circle: bool = False
) -> tuple[Shape, dict[str, Any], TextQuery, TextBackend | None]:
    """The shape and values of the statements of ``filters`` (:func:`~node.search.statements.prepare`),
    its parsed words, and with words the text backend, prepared, whose values are added."""
    parsed = text_query.parse(filters.q)
    backend = backend_for(session) if parsed else None
    # the domain blocks are read with the backend's first statement when it has one (one round trip)
    blocks = backend.prepare(session=session, alongside=DOMAIN_BLOCKS) if backend is not None else None
    shape, values = prepare(filters, centre, now, session=session, blocks=blocks, circle=circle)
    if backend is not None:
        values |= backend.values(parsed)
    return shape, values, parsed, backend


def matching_conditions(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> tuple[list[ColumnElement[bool]], ColumnElement[bool], dict[str, Any]]:
    """What a proposal must satisfy to match ``filters`` (the words included; the radius only as its
    bounding box), for a query that joins ``User`` on the local author; whether its title alone matches
    the words; and the values of the conditions' parameters, to run the query with."""
    shape, values, _parsed, backend = _prepared(filters, centre, now, session=session)
    if backend is None:
        return list(base(shape)), false(), values
    boxed = filters.radius_km is not None  # the box's index narrows the rows first
    title_match = words_of(backend, ("title", False, boxed))[0]
    return where(shape, ("text", False, boxed)), title_match, values


def _candidates(
    filters: SearchFilters,
    centre: Commune | None,
    now: datetime,
    *,
    session: Session,
    after_id: int = 0,
    prices: bool = False,
    small: bool | None = None,
) -> list[_Candidate]:
    """The proposals matching ``filters`` within the radius, newest first, with what orders them (their
    author when sorted by reputation, their price when ``prices``); ``small``: whether the
    radius's box holds few proposals (:func:`~node.search.statements.small_box`), when already known."""
    authors = filters.sort == "reputation"
    shape, values, parsed, backend = _prepared(filters, centre, now, session=session)
    checker = None
    if backend is not None:
        if shape.box and (checker := backend.checker(parsed, session=session)) is not None:
            box = (values["south"], values["north"], values["west"], values["east"])
            checker = checker if (small_box(*box, session=session) if small is None else small) else None
    statement = candidates_statement(
        shape, bool(parsed) and checker is None, bool(after_id), checker is not None, authors, prices
    )
    values |= {"after_id": after_id, "candidates": MAX_CANDIDATES}
    found: list[_Candidate] = []
    distances: dict[
        tuple[float | None, float | None], float | None
    ] = {}  # positions repeat: communes' centres
    radius = filters.radius_km
    for rank, (row_id, author, in_title, lat, lon, price, *terms) in enumerate(
        run(session, statement, values).all()
    ):
        if checker is not None:
            matched, in_title = checker(row_id, *terms)
            if not matched:
                continue
        distance = distances.get((lat, lon))
        if distance is None:
            distance = distances[lat, lon] = _distance(centre, lat, lon)
        if radius is not None and (distance is None or distance > radius):
            continue
        found.append(_Candidate(row_id, author, bool(in_title), distance, rank, price))
    return found


def _count_up_to(
    shape: Shape, words: Words, values: dict[str, Any], limit: int, *, session: Session, streamed: str = ""
) -> int:
    """How many proposals match (``words`` or, when ``streamed``, the words read from the text index as
    they are needed), counting no further than ``limit``."""
    if streamed and backend_named(shape.dialect).streamed() is None:
        streamed, words = "", (streamed, False, False)
    statement = count_statement(shape, words if not streamed else NO_WORDS, streamed)
    return int(run(session, statement, {**values, "cap": limit}).scalar_one())


def _page_rows(
    shape: Shape,
    words: Words,
    values: dict[str, Any],
    sort: str,
    offset: int,
    limit: int,
    *,
    session: Session,
) -> list[Proposal]:
    statement = page_statement(shape, words, sort, "clat" in values)
    return list(session.exec(statement, params={**values, "offset": offset, "limit": limit}).scalars().all())


def walked_page(
    window: Callable[[int], list[int]], keep: Callable[[list[int]], set[int]], offset: int, limit: int
) -> list[int] | None:
    """The ids of one page, newest first, of the proposals ``keep`` keeps among windows of the newest ones
    (``window(size)``: the ids of the ``size`` newest proposals satisfying the other conditions, read from
    the date index and stopped): exact when a window holds the page, or is every such proposal. None when
    the largest window (:data:`WALK_WINDOWS`) holds too few: the matches are too sparse for walking to
    pay."""
    wanted = offset + limit
    for factor in WALK_WINDOWS:
        size = wanted * factor
        if size > WALK_MAX:
            return None
        rows = window(size)
        kept = keep(rows)
        found = [row_id for row_id in rows if row_id in kept]
        if len(found) >= wanted or len(rows) < size:
            return found[offset:wanted]
    return None


def _ranked(checker: Checker, part: str) -> Checker:
    """``checker`` for one rank of relevance: the rows whose title matches (``title``), or those matching
    by the rest of their text only (``rest``)."""

    def check(row_id: int, title_terms: str, text_terms: str) -> tuple[bool, bool]:
        matched, in_title = checker(row_id, title_terms, text_terms)
        keep = in_title if part == "title" else matched and not in_title
        return keep, in_title

    return check


def _exact_page(
    shape: Shape,
    words: Words,
    values: dict[str, Any],
    sort: str,
    titled: bool,
    offset: int,
    limit: int,
    *,
    session: Session,
) -> list[tuple[int, bool]]:
    """One page of the matches when the bounded count found them all (at most :data:`COUNT_CAP`): read in
    one statement and ordered here as :func:`~node.search.statements.sql_order` orders them (``titled``:
    the title matches first). A planner that takes rare words for common ones would otherwise walk an
    index through every proposal for a page of a few (a prefix PostgreSQL has no statistics for: 130 ms
    on 100,000 proposals)."""
    statement = exact_statement(shape, words, titled, "clat" in values, sort)
    found = list(run(session, statement, values).all())
    found.sort(key=lambda row: row[0], reverse=True)  # stable sorts: newest, then the asked order
    found.sort(key=lambda row: row[3], reverse=True)

    def far(planar: float | None) -> tuple[bool, float]:
        return planar is None, planar or 0.0

    if sort == "distance" or sort == "relevance":
        found.sort(key=lambda row: (titled and not row[1], *far(row[2])))
    elif sort == "price":
        found.sort(key=lambda row: (row[4] is None, row[4] or Decimal(0), *far(row[2])))
    elif sort == "reputation":  # the better rounded mean, then the more evaluations; none last
        found.sort(key=lambda row: (row[5] is None, -(row[5] or 0), -(row[6] or 0), *far(row[2])))
    return [(int(row[0]), titled and bool(row[1])) for row in found[offset : offset + limit]]


def _in_database(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> Results:
    """The search when the database can do all of it (no radius whose box holds few proposals: the
    radius is then checked by the database, :func:`_wide`): count (up to :data:`COUNT_CAP`), order and
    page. With words and the relevance order, the proposals whose title matches come first: they are a
    page of their own query, then the others follow; each part is ordered by distance then freshness.
    When more than :data:`COUNT_CAP` proposals match, the matches are dense enough for the database to
    walk its date index and stop at the page (``dense``) rather than read and sort every match; ordered
    by distance, they are read from boxes around the centre (:func:`nearest_page`); by reputation,
    author by author in the order of their standings (:func:`reputation_page`)."""
    shape, values, parsed, backend = _prepared(
        filters, centre, now, session=session, circle=filters.radius_km is not None
    )
    centred = "clat" in values

    def words(dense: bool, within: bool = False) -> Words:
        return ("text", dense, within) if backend is not None else NO_WORDS

    counted = 0
    # within a radius the box's index narrows the rows: its newest would be the whole box, read and sorted
    newest = newest_count_statement(shape) if backend is not None and not shape.box else None
    if newest is not None:
        newest_values = {**values, "size": NEWEST_COUNTED, "cap": COUNT_CAP + 1}
        counted = int(run(session, newest, newest_values).scalar_one())
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
    if exact:
        if not counted:
            return Results([], 0, 1, 1, centre)
        titled = backend is not None and filters.sort == "relevance"
        ids = _exact_page(shape, words(False), values, filters.sort, titled, offset, wanted, session=session)
        return _results(ids, centre, total, page, pages, exact, session=session)
    # from here, more matches than the cap: dense enough to walk an index and stop at the page
    shape = replace(shape, dense=True)
    closest = None
    by_distance = filters.sort == "distance" or (filters.sort == "relevance" and backend is None)
    if centred and by_distance:
        # more matches than the cap, ordered by distance: the nearest are read from boxes around the centre
        checker = backend.checker(parsed, session=session) if backend is not None else None
        closest = nearest.nearest_page(
            shape, words(False, within=True), values, offset, wanted, session=session, checker=checker
        )
    # more matches than the cap, newest first, on a database that checks a window of rows in one read of
    # its text index: the page is looked for among the newest proposals (:func:`walked_page`)
    walk = (
        backend is not None
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

    def window(size: int) -> list[int]:
        return [
            int(i) for i in run(session, window_statement(shape), {**values, "size": size}).scalars().all()
        ]

    def walked(part: str, start: int, limit: int) -> list[int] | None:
        return walked_page(window, keep(part), start, limit) if walk else None

    def nearest_part(part: str, start: int, limit: int) -> list[int] | None:
        """A page of one rank of relevance (``title`` matches, or the ``rest``), nearest first, read
        position by position as :func:`~node.search.nearest.nearest_page` reads the matches by distance."""
        assert backend is not None
        checker = backend.checker(parsed, session=session)
        return nearest.nearest_page(
            shape,
            (part, False, True),
            values,
            start,
            limit,
            session=session,
            checker=_ranked(checker, part) if checker is not None else None,
        )

    loaded: dict[int, Proposal] = {}  # the rows a page's statement read: not read again

    def page_ids(chosen: Words, start: int, limit: int) -> list[int]:
        rows = _page_rows(shape, chosen, values, filters.sort, start, limit, session=session)
        loaded.update((row.id or 0, row) for row in rows)
        return [row.id or 0 for row in rows]

    if closest is not None:
        ids = [(i, False) for i in closest]
    elif backend is None or filters.sort != "relevance":
        if filters.sort == "reputation":
            checker = backend.checker(parsed, session=session) if backend is not None else None
            found = reputation_page(
                shape, words(False), values, offset, wanted, session=session, checker=checker
            )
        else:
            walk_ids = walked("all", offset, wanted)
            found = walk_ids if walk_ids is not None else page_ids(words(True), offset, wanted)
        ids = [(i, False) for i in found]
    else:
        first = walked("titles", offset, wanted)
        if first is None and centred:
            first = nearest_part("title", offset, wanted)
        if first is None:
            cap = COUNT_CAP + 1
            titled_dense = (
                backend.hinted
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
            if rest is None and centred:
                rest = nearest_part("rest", start, wanted - len(first))
            if rest is None:
                rest = page_ids(("rest", True, False), start, wanted - len(first))
            ids += [(i, False) for i in rest]
    if not ids and page > 1:  # past the last page, only known when counting to the end: show the last one
        total = _count_up_to(shape, words(False), values, MAX_CANDIDATES, session=session)
        if not total:
            return Results([], 0, 1, 1, centre)
        last = max(1, -(-total // PAGE_SIZE))
        shown = _in_database(replace(filters, page=last), centre, now, session=session)
        return replace(shown, total=total, pages=last, exact=total < MAX_CANDIDATES, more=False)
    return _results(ids, centre, total, page, pages, exact, session=session, loaded=loaded)


def _results(
    ids: list[tuple[int, bool]],
    centre: Commune | None,
    total: int,
    page: int,
    pages: int,
    exact: bool,
    *,
    session: Session,
    loaded: dict[int, Proposal] | None = None,
) -> Results:
    """The results of a page of ``ids`` (with whether the title matches), one more than a page when a
    next page exists; the rows not ``loaded`` yet are read."""
    more = len(ids) > PAGE_SIZE
    chosen = ids[:PAGE_SIZE]
    if not exact:
        pages = max(pages, page + (1 if more else 0))
    rows = dict(loaded or {})
    rows |= load([row_id for row_id, _ in chosen if row_id not in rows], session=session)
    hits = [
        Hit(rows[row_id], _distance(centre, rows[row_id].latitude, rows[row_id].longitude), in_title)
        for row_id, in_title in chosen
        if row_id in rows
    ]
    return Results(hits=hits, total=total, page=page, pages=pages, centre=centre, exact=exact, more=more)


def _wide(radius_km: int, centre: Commune | None, *, session: Session) -> bool:
    """Whether the box of a radius holds more open proposals than :data:`~node.search.statements.BOX_CHECKED`:
    reading every candidate there and ordering them here (exact count, great-circle order) would cost
    more than letting the database check the distance, count up to :data:`COUNT_CAP` and stop at the page
    (every proposal within 400 km of Paris, 40,000 of 100,000: 390 ms, against a few)."""
    if centre is None or centre.lat is None or centre.lon is None:
        return False
    return not small_box(*bounding_box(centre.lat, centre.lon, radius_km), session=session)


def search(filters: SearchFilters, *, session: Session, now: datetime, home: str | None = None) -> Results:
    """One page of the proposals matching ``filters`` in the asked order, with their count; ``home``
    (an INSEE code, the person's commune) is the centre when the filters name none. Without a radius
    whose box holds few proposals (:func:`_wide`), the database orders and counts; otherwise the
    candidates (inside the radius's bounding box) are filtered by great-circle distance here, then
    ordered the same way."""
    centre = centre_of(filters, home)
    if filters.radius_km is None or _wide(filters.radius_km, centre, session=session):
        return _in_database(filters, centre, now, session=session)
    candidates = _candidates(
        filters, centre, now, session=session, prices=filters.sort == "price", small=True
    )
    standing: dict[str, tuple[int, int]] = {}
    if filters.sort == "reputation" and candidates:
        standing = standings.kept({c.author_uri for c in candidates}, session=session)
    order = _order(filters.sort, bool(text_query.parse(filters.q)), standing)
    candidates.sort(key=order)  # type: ignore[call-overload]
    total = len(candidates)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    chosen = candidates[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = load([c.id for c in chosen], session=session)
    hits = [Hit(rows[c.id], c.distance, c.title_match) for c in chosen if c.id in rows]
    return Results(hits=hits, total=total, page=page, pages=pages, centre=centre)


def newer_matches(
    filters: SearchFilters, *, session: Session, now: datetime, after_id: int, home: str | None = None
) -> list[Proposal]:
    """The proposals stored after the row ``after_id`` that match ``filters`` (every page), oldest first:
    what a saved search has not seen yet."""
    centre = centre_of(filters, home)
    candidates = _candidates(filters, centre, now, session=session, after_id=after_id)
    rows = load([c.id for c in candidates], session=session)
    return [rows[i] for i in sorted(rows)]
