"""Form routes of the group pages: each answers POST, and GET too, so that a reload of its address after
the POST goes back to the page the form was on rather than to a 405."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.http.runtime import Endpoint


def reloadable(endpoint: Endpoint, back: str) -> Endpoint:
    """``endpoint`` for POST; for GET, a redirect to ``back`` (formatted with the path's parameters)."""

    async def wrapped(request: Request) -> Response:
        if request.method == "GET":
            return RedirectResponse(back.format(**request.path_params), status_code=303)
        return await endpoint(request)

    wrapped.__name__ = getattr(endpoint, "__name__", "form")
    return wrapped


def form_route(path: str, endpoint: Endpoint, back: str, **kwargs: Any) -> Route:
    """The route of a form posting to ``path``, whose page is ``back``."""
    return Route(path, reloadable(endpoint, back), methods=["GET", "POST"], **kwargs)
