"""Every page route of the node."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.http.pages import accounts as account_pages
from node.http.pages import admin as admin_pages
from node.http.pages import auth as auth_pages
from node.http.pages import avatars as avatar_pages
from node.http.pages import conversations as conversation_pages
from node.http.pages import emails as email_pages
from node.http.pages import follows as follow_pages
from node.http.pages import installable, search_maps, search_people, timebank_clearing
from node.http.pages import me as me_pages
from node.http.pages import moving as moving_pages
from node.http.pages import people as people_pages
from node.http.pages import recovery as recovery_pages
from node.http.pages import reload as page_reload
from node.http.pages import research as research_pages
from node.http.pages import search as search_pages
from node.http.pages import style as style_page
from node.http.pages import suggestions as suggestion_pages
from node.http.pages import timebank as timebank_pages
from node.http.pages.groups import routes as group_routes
from node.http.pages.market import routes as market_routes
from node.http.pages.telemanagement import routes as telemanagement_routes


def routes() -> list[BaseRoute]:
    listed: list[BaseRoute] = [
        *auth_pages.routes(),
        *account_pages.routes(),
        *follow_pages.routes(),
        *admin_pages.routes(),
        *market_routes.routes(),
        *timebank_pages.routes(),
        *timebank_clearing.routes(),
        *group_routes.routes(),
        *research_pages.routes(),
        *telemanagement_routes.routes(),  # telemanagement (issue 11)
        *conversation_pages.routes(),  # conversations and moderation (issue 14)
        *me_pages.routes(),
        *people_pages.routes(),
        *avatar_pages.routes(),
        *installable.routes(),
        *search_pages.routes(),  # search (issue 10)
        *search_maps.routes(),  # map of a search (issue 10)
        *search_people.routes(),  # search for people (issue 10)
        *suggestion_pages.routes(),  # matching (issue 10)
        *style_page.routes(),  # the living style page (issue 8)
        *recovery_pages.routes(),  # password reset by e-mail (issue 14)
        *email_pages.routes(),  # notifications by e-mail (issue 14)
        *moving_pages.routes(),  # moving to another server (issue 14)
    ]
    return page_reload.answer_get(listed)
