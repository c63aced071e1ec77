"""A GET for every page route that only takes POST, so that reloading or bookmarking the page a form
answered never shows "405 Method Not Allowed": it leads (303) to the nearest page above the path —
``/proposals/<id>/withdraw`` to the proposal, ``/settings/tokens/<id>/revoke`` to the settings — or home."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route

from node.http.routing import expanded


def answer_get(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """``routes`` with a GET route right after each route that only takes POST (right after, so that a
    wider GET pattern listed later, such as ``/groups/{name}`` for ``/groups/join``, does not take it),
    unless another route of the same path answers GET."""
    with_get = {r.path for r in routes if isinstance(r, Route) and r.methods and "GET" in r.methods}
    found: list[BaseRoute] = []
    for route in routes:
        found.append(route)
        if isinstance(route, Route) and route.methods and "GET" not in route.methods:
            if route.path not in with_get:
                found.append(Route(route.path, nearest_page, methods=["GET"]))
    return found


async def nearest_page(request: Request) -> Response:
    path = request.url.path.rstrip("/")
    while path:
        path = path.rsplit("/", 1)[0]
        if path and _shown_by_get(request, path):
            return RedirectResponse(path, status_code=303)
        for sibling in _SIBLINGS.get(path, ()):
            if _shown_by_get(request, sibling):
                return RedirectResponse(sibling, status_code=303)
    return RedirectResponse("/", status_code=303)


# Folders without a page of their own, and the page that stands for them.
_SIBLINGS = {"/settings": ("/settings/account",), "/bids": ("/me/bids",)}


def _shown_by_get(request: Request, path: str) -> bool:
    scope = {**request.scope, "path": path, "method": "GET", "root_path": ""}
    for route in expanded(request.app.router.routes):
        match, _ = route.matches(scope)
        if match is Match.FULL and getattr(route, "endpoint", None) is not nearest_page:
            return True
    return False
