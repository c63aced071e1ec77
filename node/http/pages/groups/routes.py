"""Every page route of the micro-organisations (the group's own URL negotiates its page or its
``Group`` document)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.http.federation import groups as federation_groups
from node.http.pages.groups import pages, work


def routes() -> list[BaseRoute]:
    # /groups/new and /groups/join before /groups/{name}.
    listed = pages.routes()
    return [
        *listed[:5],
        *federation_groups.routes(pages.profile, pages.members_page),
        *listed[5:],
        *work.routes(),
    ]
