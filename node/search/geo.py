"""Maps of the proposals that match a search: counted per commune (the local map) and per département
(the national map), as GeoJSON, with outlines of the départements drawn from our own gazetteer.

Public positions stay coarse, as the CNIL asks of any position of a person: a point is the centre of a
commune taken from the gazetteer and rounded to 0.01° (about a kilometre), never the coordinates a
proposal carries (another node may send finer ones), never an address. A proposal whose commune the
gazetteer does not know is left off the local map (it still counts in its département). Counts come
from a ``GROUP BY`` in the database (a minimum reputation and an availability among its conditions); a
radius is checked on the commune's centre.

No outline data is shipped: a département's outline is the convex hull of its communes' centres, a
rough shape that needs no tile server and no download, good enough to locate and shade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from node.accounts.models import User
from node.market.models import Proposal
from node.places.gazetteer import Commune, default_gazetteer, great_circle_km
from node.search.engine import centre_of, matching_conditions
from node.search.filters import SearchFilters

__all__ = [
    "COORDINATE_DECIMALS",
    "Area",
    "Counts",
    "MapData",
    "communes_geojson",
    "departement_outline",
    "departements_geojson",
    "map_of",
]

COORDINATE_DECIMALS = 2  # about 1 km: a commune's centre, never finer
OUTLINE_DECIMALS = 3


@dataclass
class Counts:
    """How many matching proposals, by purpose and by category."""

    offers: int = 0
    requests: int = 0
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.offers + self.requests

    def add(self, purpose: str, category: str | None, n: int) -> None:
        if purpose == "offer":
            self.offers += n
        else:
            self.requests += n
        key = category or ""
        self.categories[key] = self.categories.get(key, 0) + n


@dataclass(frozen=True)
class Area:
    """A commune or a département with its counts; ``lat``/``lon`` its (rounded) centre."""

    code: str
    name: str
    lat: float
    lon: float
    counts: Counts


@dataclass(frozen=True)
class MapData:
    communes: list[Area]  # with at least one match, most first
    departements: list[Area]  # idem
    centre: Commune | None

    @property
    def total(self) -> int:
        return sum(d.counts.total for d in self.departements)


def _rounded(value: float, decimals: int = COORDINATE_DECIMALS) -> float:
    return round(value, decimals)


def _groups(
    filters: SearchFilters, centre: Commune | None, now: datetime, *, session: Session
) -> list[tuple[str | None, str, str, str | None, int]]:
    """(commune, département, purpose, category, count) of the matches."""
    conditions, _, values = matching_conditions(filters, centre, now, session=session)
    keys: list[Any] = [
        col(Proposal.commune_insee),
        col(Proposal.departement),
        col(Proposal.purpose),
        col(Proposal.category),
    ]
    statement = (
        select_columns(*keys, func.count())
        .select_from(Proposal)
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*conditions))
        .group_by(*keys)
    )
    return [
        (insee, dep or "", purpose, category, int(n))
        for insee, dep, purpose, category, n in session.execute(statement, values).all()
    ]


def _within(commune: Commune | None, centre: Commune | None, radius_km: int | None) -> bool:
    if radius_km is None:
        return True
    if commune is None or commune.lat is None or commune.lon is None or centre is None:
        return False
    assert centre.lat is not None and centre.lon is not None
    return great_circle_km(centre.lat, centre.lon, commune.lat, commune.lon) <= radius_km


def map_of(filters: SearchFilters, *, session: Session, now: datetime, home: str | None = None) -> MapData:
    """Where the proposals matching ``filters`` are (every page of the search, not one): per commune and
    per département, with their counts by purpose and category."""
    gazetteer = default_gazetteer()
    centre = centre_of(filters, home)
    groups = _groups(filters, centre, now, session=session)
    communes: dict[str, Counts] = defaultdict(Counts)
    departements: dict[str, Counts] = defaultdict(Counts)
    for insee, dep, purpose, category, n in groups:
        commune = gazetteer.commune_of(insee) if insee else None
        if not _within(commune, centre, filters.radius_km):
            continue
        if commune is not None and commune.has_coordinates:
            communes[commune.insee].add(purpose, category, n)
        code = commune.departement if commune is not None else dep
        if code:
            departements[code].add(purpose, category, n)
    commune_areas = []
    for insee, counts in communes.items():
        commune = gazetteer.by_insee(insee)
        assert commune is not None and commune.lat is not None and commune.lon is not None
        commune_areas.append(Area(insee, commune.name, _rounded(commune.lat), _rounded(commune.lon), counts))
    departement_areas = []
    for code, counts in departements.items():
        described = gazetteer.departement(code)
        middle = _middle(code)
        if described is None or middle is None:
            continue
        departement_areas.append(Area(code, described.name, middle[1], middle[0], counts))
    commune_areas.sort(key=lambda a: (-a.counts.total, a.name))
    departement_areas.sort(key=lambda a: (-a.counts.total, a.code))
    return MapData(communes=commune_areas, departements=departement_areas, centre=centre)


def _hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull of ``points`` (x, y), counter-clockwise, by the monotone chain."""
    ordered = sorted(set(points))
    if len(ordered) <= 2:
        return ordered

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in ordered:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(ordered):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


@lru_cache(maxsize=1)
def _outlines() -> dict[str, list[tuple[float, float]]]:
    gazetteer = default_gazetteer()
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for commune in gazetteer.communes():
        # with its arrondissements, Paris (one commune, one département) has a shape too
        for place in (commune, *gazetteer.arrondissements(commune.insee)):
            if place.lat is not None and place.lon is not None:
                points[place.departement].append((place.lon, place.lat))
    return {
        code: [(round(x, OUTLINE_DECIMALS), round(y, OUTLINE_DECIMALS)) for x, y in _hull(found)]
        for code, found in points.items()
    }


def departement_outline(code: str) -> list[tuple[float, float]]:
    """The outline of département ``code`` as a closed ring of (lon, lat), empty when unknown."""
    ring = _outlines().get(code, [])
    return [*ring, ring[0]] if len(ring) >= 3 else []


def _middle(code: str) -> tuple[float, float] | None:
    ring = _outlines().get(code)
    if not ring:
        return None
    return (
        _rounded(sum(x for x, _ in ring) / len(ring)),
        _rounded(sum(y for _, y in ring) / len(ring)),
    )


def _properties(area: Area, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "code": area.code,
        "name": area.name,
        "offers": area.counts.offers,
        "requests": area.counts.requests,
        "total": area.counts.total,
        "categories": dict(sorted(area.counts.categories.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def departements_geojson(data: MapData) -> dict[str, Any]:
    """Every département as a GeoJSON Feature (its outline, a Polygon) with the counts of ``data``
    (zero where nothing matches): the national map."""
    counted = {area.code: area for area in data.departements}
    features: list[dict[str, Any]] = []
    for departement in default_gazetteer().departements():
        ring = departement_outline(departement.code)
        middle = _middle(departement.code)
        if not ring or middle is None:
            continue
        area = counted.get(departement.code) or Area(
            departement.code, departement.name, middle[1], middle[0], Counts()
        )
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                "properties": _properties(area, "departement"),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def communes_geojson(data: MapData) -> dict[str, Any]:
    """Each commune with matches as a GeoJSON Feature (its rounded centre, a Point): the local map."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [area.lon, area.lat]},
                "properties": _properties(area, "commune"),
            }
            for area in data.communes
        ],
    }
