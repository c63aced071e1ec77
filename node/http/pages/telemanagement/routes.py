"""Every page route of telemanagement."""

from __future__ import annotations

from starlette.routing import BaseRoute

from node.http.pages.telemanagement import (
    agreement_plans,
    billing,
    coordination,
    funder,
    pins,
    provider,
    replacements,
)


def routes() -> list[BaseRoute]:
    return [
        *coordination.routes(),
        *provider.routes(),
        *billing.routes(),
        *replacements.routes(),
        *pins.routes(),
        *funder.routes(),
        *agreement_plans.routes(),
    ]
