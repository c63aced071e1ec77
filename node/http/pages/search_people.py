"""Searching people, ``/people/search``: providers of a service around a commune (this node's people
who offer it on their profile, other nodes' people who have an open offer here), with their distance,
reputation and provider status; nearest or best rated first. A plain form and a list: no JavaScript."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from node.accounts import people
from node.core.errors import N_
from node.core.timeutil import utcnow
from node.http.pages.search import RADIUS_CHOICES, origin_choices, read_place
from node.http.runtime import current_user, language_of, node_of, render, run
from node.places.gazetteer import default_gazetteer
from node.search import engine
from node.search import people as people_search
from node.search.filters import MSG_NO_CENTRE, PROVIDER_STATUSES, parse_search

PARAMETERS = ("category", "commune", "radius", "provider_status", "min_reputation", "origin")
SORTS = ("distance", "reputation")
MSG_UNKNOWN_SORT = N_("Unknown value.")


def _shown_km(distance: float | None, lang: str) -> str:
    if distance is None:
        return ""
    shown = f"{distance:.0f}" if distance >= 10 else f"{distance:.1f}"
    return shown.replace(".", ",") if lang == "fr" else shown


async def people_page(request: Request) -> Response:
    """``GET /people/search``: the form and the providers it finds (at most 100)."""
    params = dict(request.query_params)
    place_error = read_place(params)
    filters, errors = parse_search({k: v for k, v in params.items() if k in PARAMETERS})
    if place_error:
        errors["place"] = place_error
    sort = params.get("sort") or "distance"
    if sort not in SORTS:
        errors["sort"] = MSG_UNKNOWN_SORT
    settings = node_of(request).settings
    user = await current_user(request)
    lang = language_of(request, user)
    home = user.commune_insee if user is not None and user.commune_insee else None
    centre = engine.centre_of(filters, home)
    if filters.radius_km is not None and not errors and centre is None:
        errors["radius"] = MSG_NO_CENTRE
    asked = any(request.query_params.get(k) for k in (*PARAMETERS, "place", "sort"))

    def load(session: Session) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        nodes = origin_choices(session=session)
        if errors or not asked:
            return [], nodes
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
            {
                "provider": p,
                "person": described[p.uri],
                "distance": _shown_km(p.distance_km, lang),
                "mean": f"{p.reputation.mean:.1f}".replace(".", ",") if p.reputation.mean is not None else "",
            }
            for p in found
        ], nodes

    rows, nodes = await run(request, load)
    commune = default_gazetteer().by_insee(filters.commune) if filters.commune else None
    return await render(
        request,
        "search/people.html",
        {
            "filters": filters,
            "sort": sort,
            "errors": errors,
            "asked": asked and not errors,
            "place": request.query_params.get("place", "") or (commune.label() if commune else ""),
            "rows": rows,
            "centre": centre,
            "statuses": PROVIDER_STATUSES,
            "radius_choices": RADIUS_CHOICES,
            "home": home,
            "nodes": nodes,
        },
        status_code=200 if not errors else 422,
    )


def routes() -> list[BaseRoute]:
    return [Route("/people/search", people_page)]
