"""The map of a search, ``/map``: where the offers and demands that match the search's filters are, per
commune (points) and per département (shaded outlines), drawn by ``static/map.js`` with the vendored
Leaflet from the GeoJSON API (``/api/v1/map/...``), with no tile server. Beside it, the same counts in two
tables linking to the searches, and the first page of results: the page is a list without JavaScript.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from node.core.timeutil import utcnow
from node.http.pages.search import form_context, hit_cards, origin_choices, read_place
from node.http.runtime import current_user, language_of, node_of, render, run
from node.search import engine, geo
from node.search.filters import MSG_NO_CENTRE, parse_search


async def map_page(request: Request) -> Response:
    """``GET /map``: the search's form, its map, its tables and its first page of results."""
    params = dict(request.query_params)
    place_error = read_place(params)
    params.pop("page", None)
    params.pop("sort", None)
    filters, errors = parse_search(params)
    if place_error:
        errors["place"] = place_error
    settings = node_of(request).settings
    user = await current_user(request)
    lang = language_of(request, user)
    home = user.commune_insee if user is not None and user.commune_insee else None
    if filters.radius_km is not None and not errors and engine.centre_of(filters, home) is None:
        errors["radius"] = MSG_NO_CENTRE

    Loaded = tuple[geo.MapData | None, engine.Results | None, list[dict[str, Any]], list[tuple[str, str]]]

    def load(session: Session) -> Loaded:
        nodes = origin_choices(session=session)
        if errors:
            return None, None, [], nodes
        now = utcnow()
        data = geo.map_of(filters, session=session, now=now, home=home)
        results = engine.search(filters, session=session, now=now, home=home)
        return data, results, hit_cards(session, settings, list(results.hits), lang), nodes

    data, results, cards, nodes = await run(request, load)
    return await render(
        request,
        "search/map.html",
        {
            **form_context(request, filters, errors, home),
            "data": data,
            "results": results,
            "cards": cards,
            "nodes": nodes,
            "query": filters.query_string(),
        },
        status_code=200 if not errors else 422,
    )


def routes() -> list[BaseRoute]:
    return [Route("/map", map_page)]
