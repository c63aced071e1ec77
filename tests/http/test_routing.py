"""The route index takes, for every path and method, the route the plain list of routes would take."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Route
from starlette.testclient import TestClient
from starlette.types import Scope

from node.http.routing import RouteIndex, expanded


def _reference(routes: list[BaseRoute], scope: Scope) -> tuple[Match, BaseRoute | None]:
    """What Starlette's router does: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return match, route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _paths(routes: list[BaseRoute]) -> set[str]:
    found = {"/", "", "/nowhere", "/api", "/api/v1", "/api/v1/", "/api/v2/search", "//api/v1/search"}
    for route in routes:
        template = getattr(route, "path", "")
        for value in ("1", "abc", "a.b", "x/y"):
            path = re.sub(r"\{[^}]*\}", value, template)
            found.update({path, path + "/", path.rstrip("/"), path + "/extra", path + ".json"})
    return found


def test_the_index_takes_the_route_the_list_takes(app: Starlette) -> None:
    (index,) = app.router.routes
    assert isinstance(index, RouteIndex)
    routes = expanded(app.router.routes)
    assert len(routes) > 100
    for path in sorted(_paths(routes)):
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
            scope: Scope = {
                "type": "http",
                "path": path,
                "root_path": "",
                "method": method,
                "path_params": {},
            }
            want_match, want_route = _reference(routes, scope)
            match, child = index.matches(scope)
            assert (match, child.get("route")) == (want_match, want_route), (method, path)


def test_a_request_is_handled_by_the_route_found(app: Starlette) -> None:
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"ok": True}
        assert client.get("/api/v1/categories").status_code == 200
        assert client.delete("/api/v1/categories").status_code == 405
        assert client.get("/api/v1/nowhere").status_code == 404


def test_routes_not_known_by_their_path_are_tried_everywhere() -> None:
    async def endpoint(request: object) -> None:  # pragma: no cover - never called
        return None

    routes: list[BaseRoute] = [
        Route("/a/b", endpoint, methods=["POST"]),
        Route("/{x}/b", endpoint),
        Route("/a/{y}", endpoint),
    ]
    index = RouteIndex(routes)
    scope: Scope = {"type": "http", "path": "/a/b", "root_path": "", "method": "GET", "path_params": {}}
    match, child = index.matches(scope)
    assert (match, child["route"]) == (Match.FULL, routes[1])
    assert index.matches({**scope, "method": "POST"})[1]["route"] is routes[0]
    assert index.matches({**scope, "path": "/c/d"})[0] is Match.NONE
