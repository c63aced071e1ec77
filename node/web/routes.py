"""Every page route of the node."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.web import account_pages, admin_pages, auth_pages, follow_pages, market_routes


def routes() -> list[BaseRoute]:
    return [
        *auth_pages.routes(),
        *account_pages.routes(),
        *follow_pages.routes(),
        *admin_pages.routes(),
        *market_routes.routes(),
    ]
