"""API operations of the maps: where the proposals matching a search are, as GeoJSON (public). Positions
are communes' centres rounded to about a kilometre (:mod:`node.search.geo`), never an address."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import ValidationFailed
from node.core.timeutil import utcnow
from node.http.api.framework import Operation, operation
from node.http.api.v1.search import MSG_FIX, SEARCH_QUERY
from node.http.runtime import run
from node.search import engine, geo
from node.search.filters import MSG_NO_CENTRE, SearchFilters, parse_search

MAP_QUERY = {name: spec for name, spec in SEARCH_QUERY.items() if name not in ("sort", "page")}


class AreaProperties(BaseModel):
    kind: Literal["commune", "departement"]
    code: str = Field(description="INSEE code of the commune, or code of the département")
    name: str
    offers: int
    requests: int
    total: int
    categories: dict[str, int] = Field(description="matches by category slug ('' for none), most first")


class Geometry(BaseModel):
    type: Literal["Point", "Polygon"]
    coordinates: list[Any] = Field(description="GeoJSON coordinates, longitude first (WGS 84)")


class Feature(BaseModel):
    type: Literal["Feature"]
    geometry: Geometry
    properties: AreaProperties


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946)."""

    type: Literal["FeatureCollection"]
    features: list[Feature]


def _filters(request: Request, caller: User | None) -> tuple[SearchFilters, str | None]:
    filters, errors = parse_search({k: v for k, v in request.query_params.items() if k in MAP_QUERY})
    if errors:
        raise ValidationFailed(MSG_FIX, fields=errors)
    home = caller.commune_insee if caller is not None and caller.commune_insee else None
    if filters.radius_km is not None and engine.centre_of(filters, home) is None:
        raise ValidationFailed(MSG_FIX, fields={"radius": MSG_NO_CENTRE})
    return filters, home


@operation(
    "GET",
    "/map/departements",
    summary="The national map: every département's outline with its number of matching offers and demands",
    tag="search",
    auth="none",
    response=FeatureCollection,
    errors=(422,),
    query=MAP_QUERY,
)
async def departements_map(request: Request, caller: User | None, _body: None) -> FeatureCollection:
    filters, home = _filters(request, caller)

    def load(session: Session) -> FeatureCollection:
        data = geo.map_of(filters, session=session, now=utcnow(), home=home)
        return FeatureCollection.model_validate(geo.departements_geojson(data))

    return await run(request, load)


@operation(
    "GET",
    "/map/local",
    summary="The local map: the communes where proposals match, each at its centre, with counts",
    tag="search",
    auth="none",
    response=FeatureCollection,
    errors=(422,),
    query=MAP_QUERY,
)
async def local_map(request: Request, caller: User | None, _body: None) -> FeatureCollection:
    filters, home = _filters(request, caller)

    def load(session: Session) -> FeatureCollection:
        data = geo.map_of(filters, session=session, now=utcnow(), home=home)
        return FeatureCollection.model_validate(geo.communes_geojson(data))

    return await run(request, load)


def operations() -> list[Operation]:
    return [departements_map, local_map]
