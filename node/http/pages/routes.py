"""Every page route of the node."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.http.pages import accounts as account_pages
from node.http.pages import admin as admin_pages
from node.http.pages import auth as auth_pages
from node.http.pages import follows as follow_pages
from node.http.pages import search as search_pages
from node.http.pages import timebank as timebank_pages
from node.http.pages import timebank_clearing
from node.http.pages.groups import routes as group_routes
from node.http.pages.market import routes as market_routes


def routes() -> list[BaseRoute]:
    return [
        *auth_pages.routes(),
        *account_pages.routes(),
        *follow_pages.routes(),
        *admin_pages.routes(),
        *market_routes.routes(),
        *timebank_pages.routes(),
        *timebank_clearing.routes(),
        *group_routes.routes(),
        *search_pages.routes(),  # search (issue 10)
    ]
