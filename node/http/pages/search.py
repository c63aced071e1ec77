"""Pages of search: ``/proposals`` searches offers and demands (words, place and radius, dates, price,
reputation, sort; 20 a page with the count; wider searches when nothing matches), and ``/me/searches``
keeps a person's saved searches, whose new matches arrive as notifications.

Every form works without JavaScript; ``static/places.js`` only adds autocompletion of communes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markupsafe import Markup
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.accounts import people
from node.accounts.models import User
from node.catalog.categories import CATEGORIES
from node.core.errors import N_
from node.core.timeutil import utcnow
from node.http.pages.market.proposals import with_ratings
from node.http.runtime import (
    current_user,
    form_with_csrf,
    language_of,
    login_required,
    node_of,
    render,
    run,
    text,
    user_in,
)
from node.places.gazetteer import default_gazetteer
from node.search import engine, saved
from node.search.filters import MSG_NO_CENTRE, SearchFilters, parse_search, widenings

_DEPARTEMENT = re.compile(r"^(\d{2,3}|2[AaBb])$")
RADIUS_CHOICES = (2, 5, 10, 20, 50, 100)
DEFAULT_RADIUS_KM = 10
MSG_NO_PLACE = N_("No commune matches this place.")
WIDENING_LABELS = {
    "radius": N_("Search farther away"),
    "origin": N_("Search on every node"),
    "category": N_("Search every service"),
    "purpose": N_("Search offers and demands"),
    "dates": N_("Search any date"),
    "availability": N_("Search any day and time"),
    "price": N_("Search any price"),
    "reputation": N_("Search any reputation"),
    "payment": N_("Search any payment"),
    "status": N_("Search any provider status"),
    "words": N_("Search without the words"),
}


def origin_choices(*, session: Session) -> list[tuple[str, str]]:
    """The other nodes whose proposals are here, for the origin filter: (domain, the name the node gives
    itself when known, else its domain), in the order of their domains."""
    domains = engine.known_nodes(session=session)
    names = people.node_names(domains, session=session)
    return [(domain, names.get(domain, domain)) for domain in domains]


def read_place(params: dict[str, str]) -> str | None:
    """A typed place (``place``) read into ``departement`` or ``commune`` (within
    :data:`DEFAULT_RADIUS_KM` unless a distance is chosen); the error when unknown."""
    place = params.pop("place", "").strip()[:100]
    if not place or params.get("commune"):
        return None
    if _DEPARTEMENT.match(place) and default_gazetteer().departement(place.upper()) is not None:
        params.setdefault("departement", place.upper())
        return None
    found = default_gazetteer().search(place, limit=1)
    if not found:
        return MSG_NO_PLACE
    params["commune"] = found[0].insee
    if "radius" not in params:  # a place typed in a link or the address bar: around it, not all France
        params["radius"] = str(DEFAULT_RADIUS_KM)
    return None


def thousands(number: int, lang: str) -> str:
    """``number`` with its thousands apart: 1 000 in French (a no-break space), 1,000 in English."""
    return f"{number:,}".replace(",", "\u00a0" if lang == "fr" else ",")


def hit_cards(session: Session, settings: Any, hits: list[engine.Hit], lang: str) -> list[dict[str, Any]]:
    """The cards of ``hits``, with their authors' ratings and their distance when one was asked."""
    cards = with_ratings(session, settings, [hit.proposal for hit in hits], lang)
    for item, hit in zip(cards, hits, strict=True):
        if hit.distance_km is not None:
            distance = f"{hit.distance_km:.0f}" if hit.distance_km >= 10 else f"{hit.distance_km:.1f}"
            shown = distance.replace(".", ",") if lang == "fr" else distance
            item["place"] = f"{item['place']} · {shown} km"
    return cards


async def search_page(request: Request) -> Response:
    """``GET /proposals``: the search form and one page of results."""
    params = dict(request.query_params)
    place_error = read_place(params)
    filters, errors = parse_search(params)
    if place_error:
        errors["place"] = place_error
    settings = node_of(request).settings

    def load(
        session: Session,
    ) -> tuple[engine.Results | None, list[dict[str, Any]], list[tuple[str, str]], str | None]:
        user = user_in(request, session)  # the person in the same transaction as their search
        home = user.commune_insee if user is not None and user.commune_insee else None
        if filters.radius_km is not None and not errors and engine.centre_of(filters, home) is None:
            errors["radius"] = MSG_NO_CENTRE
        nodes = origin_choices(session=session)
        if errors:
            return None, [], nodes, home
        results = engine.search(filters, session=session, now=utcnow(), home=home)
        return (
            results,
            hit_cards(session, settings, list(results.hits), language_of(request, user)),
            nodes,
            home,
        )

    found, cards, nodes, home = await run(request, load)
    lang = language_of(request, await current_user(request))
    return await render(
        request,
        "search/proposals.html",
        {
            **form_context(request, filters, errors, home),
            "results": found,
            "total_shown": thousands(found.total, lang) if found is not None else "",
            "cards": cards,
            "nodes": nodes,
            "widen": [(WIDENING_LABELS[k], w.query_string()) for k, w in widenings(filters)]
            if found is not None and found.total == 0
            else [],
            "previous_query": filters.query_string(page=found.page - 1) if found and found.page > 1 else None,
            "next_query": filters.query_string(page=found.page + 1) if found and found.has_next else None,
            "saved_query": filters.query_string(sort="relevance", page=1),
            "departement_options": departement_options(filters.departement),
        },
        status_code=200 if not errors else 422,
    )


@lru_cache(maxsize=128)
def departement_options(selected: str | None) -> Markup:
    """The ``<option>`` of every département (``selected`` chosen), written once per process: the
    gazetteer does not change while the node runs, and a hundred options cost a search page a
    millisecond to render each time."""
    return Markup("").join(
        Markup('<option value="{code}"{chosen}>{code} · {name}</option>').format(
            code=dep.code, name=dep.name, chosen=Markup(" selected") if dep.code == selected else ""
        )
        for dep in default_gazetteer().departements()
    )


def form_context(
    request: Request, filters: SearchFilters, errors: dict[str, str], home: str | None
) -> dict[str, Any]:
    """What the search form needs on the pages that show it (the list, the map): the filters as given,
    their errors, the place as typed or named, the categories and radii to choose from."""
    commune = default_gazetteer().by_insee(filters.commune) if filters.commune else None
    return {
        "filters": filters,
        "values": {k: v for k, v in request.query_params.items() if k != "place"},
        "errors": errors,
        "place": request.query_params.get("place", "") or (commune.label() if commune else ""),
        "all_categories": CATEGORIES,
        "radius_choices": RADIUS_CHOICES,
        "home": home,
    }


@login_required
async def saved_searches(request: Request, user: User) -> Response:
    """``GET /me/searches``: the person's saved searches; ``POST`` saves one."""
    if request.method == "POST":
        form = await form_with_csrf(request)
        settings = node_of(request).settings
        name, query = text(form, "name", 200), text(form, "query", 2000)
        await run(request, lambda s: saved.create(settings, user, name or query or "?", query, session=s))
        return RedirectResponse("/me/searches?saved=1", status_code=303)
    rows = await run(request, lambda s: list(saved.of_user(user.pk, session=s)))
    return await render(
        request, "search/saved.html", {"searches": rows, "saved": request.query_params.get("saved")}
    )


@login_required
async def delete_saved_search(request: Request, user: User) -> Response:
    """``POST /me/searches/{id}/delete``; a ``GET`` (a reload) goes back to the list."""
    if request.method == "POST":
        await form_with_csrf(request)
        saved_id = int(request.path_params["saved_id"])
        await run(request, lambda s: saved.delete(user, saved_id, session=s))
    return RedirectResponse("/me/searches", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/proposals", search_page),
        Route("/me/searches", saved_searches, methods=["GET", "POST"]),
        Route("/me/searches/{saved_id:int}/delete", delete_saved_search, methods=["GET", "POST"]),
    ]
