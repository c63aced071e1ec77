"""Every page route of the marketplace."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.web import agreement_pages, bid_pages, evaluation_pages, notification_pages, proposal_pages


def routes() -> list[BaseRoute]:
    return [
        *proposal_pages.routes(),
        *bid_pages.routes(),
        *agreement_pages.routes(),
        *evaluation_pages.routes(),
        *notification_pages.routes(),
    ]
