"""Scoring the candidates of the profiles table (:func:`~node.search.matching.profiles.nearby`) fast, and
in order: the job ranks every new demand against all the providers within reach, thousands on a dense
node, and tells a handful of them.

- **What a row says** besides its place is kept in memory by its version (a digest of the row made when
  the row is built, :data:`MatchProfile.version`): categories and words as frozensets, the parts of
  days as a bit mask, the parts of the score that do not depend on the demand (reputation,
  completion). A ranking reads from the table only the rows whose version it has not seen
  (:func:`load`). At most :data:`CACHE_SIZE` versions are kept (about 2 KB each with 30 words, the
  strings shared);
  past that the memory is emptied and filled again.
- **The score** of each candidate is computed from these plain values with the same part functions and
  the same sum as :func:`~node.search.matching.scoring.score` (:func:`~node.search.matching.scoring.total`),
  so it is the same number to the last bit; no ``Supply`` or ``Match`` object is made for a candidate
  that is not kept.
- **Only the candidates that may come next are scored** (:func:`ranked`): each gets a cheap upper
  bound of its score first (the distance from :func:`low_km`, price and recency at their best), and
  candidates are scored in the order of their bounds until the best scored beats the next bound.
- **The order** is the one of every ranking: the higher score, then the nearer, then the older account
  (the lower id). :func:`best` gives it a slice at a time: the best ``first`` by a heap, the rest sorted
  only if the caller asks for more (who reads the accounts of the kept ones, drops those suspended
  or blocked since, and asks for the next slice when too few remain).
"""

from __future__ import annotations

import gc
import heapq
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple, TypeVar, cast

from sqlalchemy import select
from sqlmodel import Session, col

from node.catalog.categories import UnknownCategory, by_slug, in_group
from node.places.gazetteer import EARTH_RADIUS_KM, great_circle_km
from node.search.matching.models import MatchProfile
from node.search.matching.profiles import Near
from node.search.matching.scoring import (
    MIN_SCORE,
    RELATED_CATEGORY,
    UNKNOWN,
    WEIGHTS,
    Match,
    Need,
    Price,
    Supply,
    completion_part,
    price_part,
    recency_part,
    reputation_part,
    score,
    total,
)

__all__ = [
    "CACHE_SIZE",
    "EPS",
    "Entry",
    "Static",
    "best",
    "forget",
    "load",
    "low_km",
    "match_of",
    "ranked",
    "scored",
    "settle",
]

CACHE_SIZE = 50_000
FAR = 1e9  # the distance that sorts an unknown one last
SLOTS = 21  # parts of the days of the week (availability.slot)
_T = TypeVar("_T")
_UNSEEN: tuple[Static, float, float, float] = cast("tuple[Static, float, float, float]", ())


@dataclass(frozen=True, slots=True)
class Static:
    """What a profile row says besides its place: the values scoring reads, and the parts of the score
    that depend on the row alone."""

    status: str
    categories: frozenset[str]
    terms: frozenset[str]
    slots: int | None  # bit mask, 1 is Monday morning (availability.slot)
    reputation_mean: Decimal | None
    reputation_count: int
    price: Price | None
    completed: int
    finished: int
    last_active: datetime | None
    reputation: float
    completion: float
    ceiling: float  # the weighted parts that depend on the row alone, price and recency taken at 1


_CACHE: dict[int, Static] = {}
_SHARED: dict[object, object] = {}  # equal category sets and prices as one object (memos go by identity)

_STATIC_COLUMNS = (
    MatchProfile.version,
    MatchProfile.provider_status,
    MatchProfile.categories,
    MatchProfile.terms,
    MatchProfile.slots,
    MatchProfile.reputation_mean,
    MatchProfile.reputation_count,
    MatchProfile.price_amount,
    MatchProfile.price_currency,
    MatchProfile.price_basis,
    MatchProfile.completed,
    MatchProfile.finished,
    MatchProfile.last_active_at,
)


def forget() -> None:
    """Empty the memory of rows (a measurement of the cold cost starts with it)."""
    _CACHE.clear()
    _SHARED.clear()


_SETTLED = False


def settle() -> None:
    """Once per process, after a first ranking has built what lives as long as the process (the
    gazetteer, the catalogue, compiled statements, the memory of rows): collect the garbage, then move
    every object left out of the collector's reach (``gc.freeze``). A collection of the oldest
    generation walks every object the collector tracks: 140,000 in the worker after a ranking, about
    100 ms on a quiet machine, and it fell inside a ranking every dozen demands of a dense node;
    frozen, they are not walked again (the same collection then takes under 1 ms). Objects are still
    freed when no longer referenced; only a cycle made of objects alive at that moment would never be."""
    global _SETTLED  # noqa: PLW0603 - once per process
    if _SETTLED:
        return
    _SETTLED = True
    gc.collect()
    gc.freeze()


def _static(row: Sequence[object]) -> Static:
    (_v, status, categories, terms, slots, mean, count, amount, currency, basis, done, ended, last) = row
    assert isinstance(status, str) and isinstance(categories, str) and isinstance(terms, str)
    assert isinstance(count, int) and isinstance(done, int) and isinstance(ended, int)
    assert slots is None or isinstance(slots, int)
    assert last is None or isinstance(last, datetime)
    price = None
    if amount is not None and currency and basis:
        price = _shared(Price(Decimal(str(amount)), str(currency), str(basis)))
    reputation_mean = Decimal(str(mean)) if mean is not None else None
    reputation, completion = reputation_part(reputation_mean, count), completion_part(done, ended)
    w = WEIGHTS
    return Static(
        status=status,
        categories=_shared(frozenset(map(sys.intern, categories.split()))),
        terms=frozenset(map(sys.intern, terms.split())),
        slots=slots,
        reputation_mean=reputation_mean,
        reputation_count=count,
        price=price,
        completed=done,
        finished=ended,
        last_active=last,
        reputation=reputation,
        completion=completion,
        ceiling=w["reputation"] * reputation + w["price"] + w["completion"] * completion + w["recency"],
    )


def _shared(value: _T) -> _T:
    if len(_SHARED) > CACHE_SIZE:
        _SHARED.clear()
    return cast("_T", _SHARED.setdefault(value, value))


def load(rows: Sequence[Near], *, session: Session) -> None:
    """Read the rows of ``rows`` whose version is not in memory yet: one row per version (rows of the
    same version say the same, and a dense node has many alike)."""
    missing = sorted({version: user_id for user_id, version, *_ in rows if version not in _CACHE}.values())
    if not missing:
        return
    if len(_CACHE) + len(missing) > CACHE_SIZE:
        _CACHE.clear()
    user_id = col(MatchProfile.user_id)
    for start in range(0, len(missing), 500):
        query = select(*(col(c) for c in _STATIC_COLUMNS)).where(user_id.in_(missing[start : start + 500]))
        for row in session.execute(query).all():
            _CACHE[row[0]] = _static(tuple(row))


def _group(category: str | None) -> frozenset[str]:
    if category is None:
        return frozenset()
    try:
        return frozenset(c.slug for c in in_group(by_slug(category).group))
    except UnknownCategory:
        return frozenset()


class _Asked(NamedTuple):
    """What :func:`scored` and :func:`ranked` read of a need, worked out once before their loops."""

    terms: frozenset[str]
    size: int  # how many terms
    category: str | None
    group: frozenset[str]  # the categories of its group (see :func:`_group`)
    lat: float | None
    lon: float | None
    placed: bool  # lat and lon known
    days: int | None  # its slots as a bit mask
    budget: Price | None


def _asked(need: Need) -> _Asked:
    lat, lon = need.lat, need.lon
    return _Asked(
        terms=need.terms,
        size=len(need.terms),
        category=need.category,
        group=_group(need.category),
        lat=lat,
        lon=lon,
        placed=lat is not None and lon is not None,
        days=None if need.slots is None else sum(1 << d for d in need.slots),
        budget=need.budget,
    )


Entry = tuple[float, float, int, int, Static]
"""A scored candidate, in the order of rankings: minus its score, its distance (:data:`FAR` when
unknown), its user id (one row per person: the order never reads further), its index in the rows given
to :func:`scored`, what its row says."""


def scored(
    need: Need,
    rows: Sequence[Near],
    now: datetime,
    *,
    author_id: int | None,
    eligible: Callable[[str | None, str], bool],
) -> list[Entry]:
    """The candidates of ``rows`` that match ``need`` at :data:`MIN_SCORE` or more (never the author, only
    those whose status may provide its category), unordered; :func:`load` first."""
    cache = _CACHE
    terms, count, category, group, lat, lon, placed, days, budget = _asked(need)
    allowed: dict[str, bool] = {}
    found: list[Entry] = []
    for index, (user_id, version, row_lat, row_lon, radius) in enumerate(rows):
        static = cache.get(version)
        if static is None or user_id == author_id:
            continue  # a version read by none (the row changed in between): left for the next pass
        ok = allowed.get(static.status)
        if ok is None:
            ok = allowed[static.status] = eligible(category, static.status)
        if not ok:
            continue
        if category is None:
            same = 0.0
        elif category in static.categories:
            same = 1.0
        else:
            same = 0.0 if group.isdisjoint(static.categories) else RELATED_CATEGORY
        text = len(terms & static.terms) / count if count else 0.0
        if same == 0.0 and text == 0.0:
            continue
        km = None
        distance = 0.0
        if placed and row_lat is not None and row_lon is not None:
            assert lat is not None and lon is not None
            km = great_circle_km(lat, lon, row_lat, row_lon)
            if km > radius:
                continue
            distance = 1.0 - km / radius if radius > 0 else 1.0
        if days is None or static.slots is None:
            availability = UNKNOWN
        else:
            availability = 1.0 if days & static.slots else 0.0
        price = UNKNOWN if budget is None or static.price is None else price_part(budget, static.price)[0]
        idle = None if static.last_active is None else max(0, (now - static.last_active).days)
        recency = recency_part(idle)
        fixed = static.reputation, price, static.completion, recency
        value = total(same, text, distance, availability, *fixed)
        if value >= MIN_SCORE:
            found.append((-value, FAR if km is None else km, user_id, index, static))
    return found


_LOW_KM_PER_DEGREE = 0.99 * EARTH_RADIUS_KM * math.pi / 180
"""Kilometres per degree of the equirectangular distance that stays under the great-circle one: the
flat distance (the longitudes scaled by the cosine of the latitude farther from the equator) differs
from it by well under 1 % within a few hundred kilometres (``tests/search/test_matching_bound.py``)."""
EPS = 1.0001e-4  # a score is rounded to 4 decimals: at most half of 1e-4 above the sum of its parts


def low_km(lat: float, lon: float, row_lat: float, row_lon: float, top: float = 0.0) -> float:
    """A cheap distance no greater than :func:`great_circle_km` (0 when it cannot tell: over the
    antimeridian or near a pole); the longitudes are scaled by the cosine of the latitude farther from
    the equator of the two, or of ``top`` when it is farther still (smaller: the distance stays under)."""
    top = max(abs(lat), abs(row_lat), top)
    dx = row_lon - lon
    if top > 80 or abs(dx) > 180:
        return 0.0
    dx *= math.cos(math.radians(top))
    dy = row_lat - lat
    return _LOW_KM_PER_DEGREE * math.sqrt(dx * dx + dy * dy)


def _top(lat: float, rows: Sequence[Near]) -> float:
    """The latitude farthest from the equator of ``lat`` and the rows' (one cosine for all of them)."""
    lats = list(map(itemgetter(2), rows))
    if None in lats:
        lats = [x for x in lats if x is not None]
    return max(abs(lat), max(lats, default=0.0), -min(lats, default=0.0))


def ranked(
    need: Need,
    rows: Sequence[Near],
    now: datetime,
    *,
    author_id: int | None,
    eligible: Callable[[str | None, str], bool],
    first: int,
) -> Iterator[list[Entry]]:
    """The candidates of ``rows`` that match ``need`` (those of :func:`scored`) in order, a slice of
    ``first`` at a time, scoring in full only those that may come next: every candidate gets a cheap
    upper bound of its score (its parts exact but the distance, taken from :func:`low_km`, the price and
    the recency, taken at 1), and the candidates are scored in the order of their bounds until the best
    scored one beats the bound of the next (:data:`EPS` above it); the others are never scored."""
    cache = _CACHE
    terms, count, category, group, lat, lon, placed, days, budget = _asked(need)
    w0, w1, w2, w3 = (WEIGHTS[k] for k in ("category", "text", "distance", "availability"))
    allowed: dict[str, bool] = {}
    kinds: dict[frozenset[str], float] = {}
    bounds: list[float] = []
    which: list[tuple[int, Static, float, float]] = []  # row index, its row, category, text
    floor = MIN_SCORE - EPS
    # low_km inlined, with one cosine for every row (that of the latitude farthest from the equator):
    # the loop runs once per candidate, thousands on a dense node.
    top = _top(lat, rows) if placed and lat is not None and rows else 90.0
    flat = top <= 80
    scale = math.cos(math.radians(top)) if flat else 0.0
    per_degree = _LOW_KM_PER_DEGREE
    sqrt = math.sqrt
    seen: dict[int, tuple[Static, float, float, float] | None] = {}  # by version: see of_version()

    def of_version(version: int) -> tuple[Static, float, float, float] | None:
        """What the bound of a row owes to its version: its row, category and text parts, and the sum of
        the weighted parts that do not depend on its place (None when it is no candidate)."""
        static = cache.get(version)
        if static is None:
            return None  # a version read by none (the row changed in between): left for the next pass
        ok = allowed.get(static.status)
        if ok is None:
            ok = allowed[static.status] = eligible(category, static.status)
        if not ok:
            return None
        same = kinds.get(static.categories)
        if same is None:
            if category is None:
                same = 0.0
            elif category in static.categories:
                same = 1.0
            else:
                same = 0.0 if group.isdisjoint(static.categories) else RELATED_CATEGORY
            kinds[static.categories] = same
        text = len(terms & static.terms) / count if count else 0.0
        if same == 0.0 and text == 0.0:
            return None
        if days is None or static.slots is None:
            availability = UNKNOWN
        else:
            availability = 1.0 if days & static.slots else 0.0
        return static, same, text, w0 * same + w1 * text + w3 * availability + static.ceiling

    for index, (user_id, version, row_lat, row_lon, radius) in enumerate(rows):
        if user_id == author_id:
            continue
        known = seen.get(version, _UNSEEN)
        if known is _UNSEEN:
            known = seen[version] = of_version(version)
        if known is None:
            continue
        bound = known[3]
        if placed and row_lat is not None and row_lon is not None:
            assert lat is not None and lon is not None
            dx = row_lon - lon
            if flat and -180 <= dx <= 180:
                dx *= scale
                dy = row_lat - lat
                km = per_degree * sqrt(dx * dx + dy * dy)
            else:
                km = low_km(lat, lon, row_lat, row_lon)
            if km > radius:
                continue  # the great-circle distance is further still
            bound += w2 * (1.0 - km / radius if radius > 0 else 1.0)
        if bound >= floor:
            bounds.append(bound)
            which.append((index, known[0], known[1], known[2]))
    prices: dict[int, float] = {}

    def exact(index: int, static: Static, same: float, text: float) -> Entry | None:
        user_id, _version, row_lat, row_lon, radius = rows[index]
        km = None
        distance = 0.0
        if placed and row_lat is not None and row_lon is not None:
            assert lat is not None and lon is not None
            km = great_circle_km(lat, lon, row_lat, row_lon)
            if km > radius:
                return None
            distance = 1.0 - km / radius if radius > 0 else 1.0
        if days is None or static.slots is None:
            availability = UNKNOWN
        else:
            availability = 1.0 if days & static.slots else 0.0
        if budget is None or static.price is None:
            price = UNKNOWN
        else:
            price = prices.get(id(static.price), -1.0)
            if price < 0:
                price = prices[id(static.price)] = price_part(budget, static.price)[0]
        idle = None if static.last_active is None else max(0, (now - static.last_active).days)
        fixed = static.reputation, price, static.completion, recency_part(idle)
        value = total(same, text, distance, availability, *fixed)
        if value < MIN_SCORE:
            return None
        return (-value, FAR if km is None else km, user_id, index, static)

    order = sorted(range(len(bounds)), key=bounds.__getitem__, reverse=True)
    heap: list[Entry] = []
    at, part = 0, []
    while True:
        while at < len(order) and bounds[order[at]] >= (-heap[0][0] - EPS if heap else floor):
            entry = exact(*which[order[at]])
            at += 1
            if entry is not None:
                heapq.heappush(heap, entry)
        if not heap:
            break
        part.append(heapq.heappop(heap))
        if len(part) >= first:
            yield part
            part = []
    if part:
        yield part


def best(entries: list[Entry], first: int) -> Iterator[list[Entry]]:
    """``entries`` in order, a slice at a time: the best ``first`` (a heap: the others are not sorted),
    then, if asked for, the rest in slices of ``first``."""
    if len(entries) <= first:
        yield sorted(entries)
        return
    yield heapq.nsmallest(first, entries)
    rest = sorted(entries)
    for start in range(first, len(rest), first):
        yield rest[start : start + first]


def match_of(need: Need, entry: Entry, rows: Sequence[Near], now: datetime) -> Match:
    """The full match (parts and what its reasons are made of) of a kept candidate of ``rows``, by
    :func:`~node.search.matching.scoring.score` itself."""
    static = entry[4]
    _user_id, _version, lat, lon, radius = rows[entry[3]]
    days = None
    if static.slots is not None:
        days = frozenset(d for d in range(SLOTS) if static.slots & (1 << d))
    supply = Supply(
        uri="",
        categories=static.categories,
        terms=static.terms,
        lat=lat,
        lon=lon,
        radius_km=radius,
        slots=days,
        reputation_mean=static.reputation_mean,
        reputation_count=static.reputation_count,
        price=static.price,
        completed=static.completed,
        finished=static.finished,
        last_active=static.last_active,
    )
    found = score(need, supply, now)
    assert found is not None
    return found
