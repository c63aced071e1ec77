"""Every page route of the marketplace."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.http.pages import notifications as notification_pages
from node.http.pages.market import agreements as agreement_pages
from node.http.pages.market import bids as bid_pages
from node.http.pages.market import evaluations as evaluation_pages
from node.http.pages.market import proposals as proposal_pages


def routes() -> list[BaseRoute]:
    return [
        *proposal_pages.routes(),
        *bid_pages.routes(),
        *agreement_pages.routes(),
        *evaluation_pages.routes(),
        *notification_pages.routes(),
    ]
