"""API operations of search: proposals by words, place, distance and filters (public; with a token, the
caller's commune is the default centre), and the caller's saved searches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from node.accounts import people
from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.core.timeutil import utcnow
from node.http.api.framework import Operation, operation
from node.http.api.schemas import CategorySlug, Strict
from node.http.api.v1.proposals import ProposalOut, proposal_out
from node.http.runtime import language_of, node_of, run
from node.market.availability import PARTS
from node.places.gazetteer import DEPARTEMENT_CODE, INSEE_CODE
from node.search import engine, saved
from node.search import people as people_search
from node.search.filters import (
    MAX_RADIUS_KM,
    MSG_NO_CENTRE,
    PAYMENTS,
    PROVIDER_STATUSES,
    SORTS,
    WEEKDAYS,
    parse_search,
    widenings,
)

MSG_FIX = N_("Some fields need attention.")

SEARCH_QUERY: dict[str, dict[str, Any]] = {
    "q": {
        "description": "Words (at most 200 characters): French stems, accents ignored, synonyms of the "
        "sector; the last word is a prefix unless followed by a space"
    },
    "purpose": {"schema": {"type": "string", "enum": ["offer", "request"]}},
    "category": {
        "description": "A category slug",
        "schema": {"type": "string", "enum": [c.value for c in CategorySlug]},
    },
    "departement": {
        "description": "Code of a département, e.g. 93",
        "schema": {"type": "string", "pattern": DEPARTEMENT_CODE},
    },
    "origin": {
        "description": "`all` (default), `local` (this node's), `remote` (other nodes'), or the domain of "
        "one other node (e.g. `b.example`, with `:port` when not the default) for that node's only",
        "schema": {"type": "string", "maxLength": 120},
    },
    "commune": {
        "description": "INSEE code of the centre (default: the caller's commune)",
        "schema": {"type": "string", "pattern": INSEE_CODE},
    },
    "radius": {
        "description": "Kilometres around the centre",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RADIUS_KM},
    },
    "date_from": {"description": "First occurrence on or after (YYYY-MM-DD)", "schema": {"format": "date"}},
    "date_to": {"description": "First occurrence on or before (YYYY-MM-DD)", "schema": {"format": "date"}},
    "price_min": {"description": "Euros (per hour or in total)", "schema": {"type": "number", "minimum": 0}},
    "price_max": {"description": "Euros (per hour or in total)", "schema": {"type": "number", "minimum": 0}},
    "min_reputation": {
        "description": "Mean evaluation of the author, 1 to 5",
        "schema": {"type": "number", "minimum": 1, "maximum": 5},
    },
    "payment": {
        "description": "Paid in euros or in time tokens (hours); price bounds are then in that unit",
        "schema": {"type": "string", "enum": list(PAYMENTS)},
    },
    "provider_status": {
        "description": "The author provides under this status (known for this node's people only)",
        "schema": {"type": "string", "enum": list(PROVIDER_STATUSES)},
    },
    "weekday": {
        "description": "A day of the week (MO to SU) on which the proposal's schedule has an occurrence",
        "schema": {"type": "string", "enum": list(WEEKDAYS)},
    },
    "time_of_day": {
        "description": "Part of the day (before noon, noon to 6 pm, after 6 pm, Paris time) of an occurrence",
        "schema": {"type": "string", "enum": list(PARTS)},
    },
    "sort": {"schema": {"type": "string", "enum": list(SORTS)}},
    "page": {"schema": {"type": "integer", "minimum": 1}},
}


class SearchHit(BaseModel):
    proposal: ProposalOut
    distance_km: float | None = Field(description="from the centre, to the commune's centre")


class Centre(BaseModel):
    insee: str
    name: str


class Widening(BaseModel):
    kind: str = Field(
        description="radius, origin, category, purpose, dates, availability, price, reputation, payment, "
        "status or words"
    )
    query: str = Field(description="the query string of the wider search")


class SearchResults(BaseModel):
    items: list[SearchHit]
    total: int = Field(
        description=f"how many proposals match, counted up to {engine.COUNT_CAP:,}: when `total_exact` is "
        "false, more than that many match"
    )
    total_exact: bool = Field(description=f"false when more than {engine.COUNT_CAP:,} proposals match")
    page: int
    pages: int = Field(description="the number of pages; when `total_exact` is false, the pages known so far")
    next_page: int | None
    centre: Centre | None
    widen: list[Widening] = Field(description="when nothing matches: wider searches to try")


@operation(
    "GET",
    "/search",
    summary="Search offers and demands, local and from other nodes (20 a page)",
    tag="search",
    auth="none",
    response=SearchResults,
    errors=(422,),
    query=SEARCH_QUERY,
)
async def search_proposals(request: Request, caller: User | None, _body: None) -> SearchResults:
    filters, errors = parse_search(request.query_params)
    if errors:
        raise ValidationFailed(MSG_FIX, fields=errors)
    settings = node_of(request).settings
    lang = language_of(request, caller)
    home = caller.commune_insee if caller is not None else None
    if filters.radius_km is not None and engine.centre_of(filters, home or None) is None:
        raise ValidationFailed(MSG_FIX, fields={"radius": MSG_NO_CENTRE})

    def load(session: Session) -> SearchResults:
        found = engine.search(filters, session=session, now=utcnow(), home=home or None)
        centre = found.centre
        return SearchResults(
            items=[
                SearchHit(
                    proposal=proposal_out(settings, hit.proposal, lang),
                    distance_km=round(hit.distance_km, 1) if hit.distance_km is not None else None,
                )
                for hit in found.hits
            ],
            total=found.total,
            total_exact=found.exact,
            page=found.page,
            pages=found.pages,
            next_page=found.page + 1 if found.has_next else None,
            centre=Centre(insee=centre.insee, name=centre.name) if centre is not None else None,
            widen=[]
            if found.total
            else [Widening(kind=kind, query=wider.query_string()) for kind, wider in widenings(filters)],
        )

    return await run(request, load)


PEOPLE_PARAMETERS = ("category", "commune", "radius", "provider_status", "min_reputation", "origin", "sort")
PEOPLE_SORTS = ("distance", "reputation")


class ReputationOut(BaseModel):
    mean: Decimal | None = Field(description="1 to 5, None before the first published evaluation")
    count: int


class ProviderOut(BaseModel):
    uri: str
    name: str
    handle: str
    url: str
    local: bool
    status: str = Field(description="provider status, '' when not known (a person of another node)")
    commune: str
    distance_km: float | None
    reputation: ReputationOut
    categories: list[str]


@operation(
    "GET",
    "/search/people",
    summary="Providers by category and distance, with their reputation (this node's and other nodes')",
    tag="search",
    auth="none",
    response=ProviderOut,
    list_response=True,
    errors=(422,),
    query={
        **{name: SEARCH_QUERY[name] for name in PEOPLE_PARAMETERS if name != "sort"},
        "sort": {"schema": {"type": "string", "enum": list(PEOPLE_SORTS)}},
    },
)
async def search_people(request: Request, caller: User | None, _body: None) -> list[ProviderOut]:
    params = {k: v for k, v in request.query_params.items() if k in PEOPLE_PARAMETERS and k != "sort"}
    filters, errors = parse_search(params)
    sort = request.query_params.get("sort") or "distance"
    if errors:
        raise ValidationFailed(MSG_FIX, fields=errors)
    settings = node_of(request).settings
    home = caller.commune_insee if caller is not None and caller.commune_insee else None

    def load(session: Session) -> list[ProviderOut]:
        centre = engine.centre_of(filters, home)
        found = people_search.providers(
            settings,
            session=session,
            now=utcnow(),
            category=filters.category,
            centre=centre,
            radius_km=filters.radius_km,
            provider_status=filters.provider_status,
            min_reputation=filters.min_reputation,
            sort=sort,
            origin=filters.origin,
            node=filters.node,
        )
        described = people.describe(settings, [p.uri for p in found], session=session)
        return [
            ProviderOut(
                uri=p.uri,
                name=described[p.uri].label,
                handle=described[p.uri].handle,
                url=described[p.uri].url,
                local=p.local,
                status=p.status,
                commune=p.commune_name,
                distance_km=round(p.distance_km, 1) if p.distance_km is not None else None,
                reputation=ReputationOut(mean=p.reputation.mean, count=p.reputation.count),
                categories=list(p.categories),
            )
            for p in found
        ]

    return await run(request, load)


class SavedSearchIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    query: str = Field(max_length=2000, description="the query string of a search, e.g. `q=menage&radius=10`")


class SavedSearchOut(BaseModel):
    id: int
    name: str
    query: str
    created_at: datetime


def _saved_out(row: saved.SavedSearch) -> SavedSearchOut:
    assert row.id is not None
    return SavedSearchOut(id=row.id, name=row.name, query=row.params, created_at=row.created_at)


@operation(
    "GET",
    "/saved-searches",
    summary="The caller's saved searches (new matching proposals notify them)",
    tag="search",
    response=SavedSearchOut,
    list_response=True,
)
async def list_saved_searches(request: Request, caller: User, _body: None) -> list[SavedSearchOut]:
    return await run(request, lambda s: [_saved_out(r) for r in saved.of_user(caller.pk, session=s)])


@operation(
    "POST",
    "/saved-searches",
    summary="Save a search: new local or federated proposals that match it notify the caller",
    tag="search",
    body=SavedSearchIn,
    response=SavedSearchOut,
    status=201,
    errors=(422,),
)
async def create_saved_search(request: Request, caller: User, body: SavedSearchIn) -> SavedSearchOut:
    settings = node_of(request).settings
    return await run(
        request,
        lambda s: _saved_out(saved.create(settings, caller, body.name, body.query, session=s)),
    )


@operation(
    "DELETE",
    "/saved-searches/{saved_id:int}",
    summary="Forget one of the caller's saved searches",
    tag="search",
    status=204,
    errors=(404,),
)
async def delete_saved_search(request: Request, caller: User, _body: None) -> Response:
    saved_id = int(request.path_params["saved_id"])
    await run(request, lambda s: saved.delete(caller, saved_id, session=s))
    return Response(status_code=204)


def operations() -> list[Operation]:
    return [search_proposals, search_people, list_saved_searches, create_saved_search, delete_saved_search]
