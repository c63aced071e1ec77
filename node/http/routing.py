"""Finding a request's route without trying every route in turn.

Starlette's router tries each route's regular expression in order until one matches: with some 330
routes, a request for one near the end spent about a third of a millisecond there. :class:`RouteIndex`
holds the routes as one route, indexed by the literal segments their paths begin with
(``/api/v1/search`` by ``api``, ``v1``, ``search``; ``/users/{username}`` by ``users``), and tries only
those that can match the path asked for, in their order. Routes that can match the same path keep their
order among themselves, so the route taken (or the partial match that answers 405, or the redirection
to the path with or without its trailing slash) is the one the plain list would have taken.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

DEPTH = 3  # literal segments indexed: /api/v1/<resource>
_TAKEN = "asasap.route"  # the route a RouteIndex matched, in the child scope it returns


def literal_prefix(route: BaseRoute) -> tuple[str, ...]:
    """The segments (up to :data:`DEPTH`) that every path ``route`` matches begins with; none for a
    route that is not matched by its path alone."""
    if not isinstance(route, (Route, WebSocketRoute, Mount)) or not route.path.startswith("/"):
        return ()
    prefix: list[str] = []
    for segment in route.path.split("/")[1 : DEPTH + 1]:
        if "{" in segment:
            break
        prefix.append(segment)
    return tuple(prefix)


def expanded(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """``routes`` with each :class:`RouteIndex` replaced by the routes it holds, in order."""
    return [
        inner for route in routes for inner in (route.routes if isinstance(route, RouteIndex) else (route,))
    ]


class RouteIndex(BaseRoute):
    """``routes`` as one route that tries only those whose literal prefix the path begins with."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        prefixes = [literal_prefix(route) for route in self.routes]
        nodes = {prefix[:depth] for prefix in prefixes for depth in range(len(prefix) + 1)}
        # For each known prefix: the routes whose own prefix begins it, in their order. A path whose
        # longest known prefix is P can only be matched by those: any other route's prefix differs
        # from the path's segments somewhere.
        self._candidates: dict[tuple[str, ...], tuple[BaseRoute, ...]] = {
            node: tuple(
                route
                for route, prefix in zip(self.routes, prefixes, strict=True)
                if node[: len(prefix)] == prefix
            )
            for node in nodes
        }

    def candidates(self, scope: Scope) -> Sequence[BaseRoute]:
        """The routes that may match ``scope``, in order."""
        path = get_route_path(scope) if scope["type"] in ("http", "websocket") else ""
        if not path.startswith("/"):
            return self.routes
        segments = path.split("/", DEPTH + 1)[1 : DEPTH + 1]
        for depth in range(len(segments), -1, -1):
            found = self._candidates.get(tuple(segments[:depth]))
            if found is not None:
                return found
        return self.routes  # not reached: the empty prefix is always known

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.candidates(scope):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, "route": route, _TAKEN: route}
            if match is Match.PARTIAL and partial is None:
                partial = route, child_scope
        if partial is not None:
            route, child_scope = partial
            return Match.PARTIAL, {**child_scope, "route": route, _TAKEN: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_TAKEN)
        scope["route"] = route
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)
