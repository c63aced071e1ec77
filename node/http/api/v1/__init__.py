"""Version 1 of the JSON API: every operation, listed by resource, and its OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from node.http.api import openapi
from node.http.api.framework import Api
from node.http.api.v1 import (
    accounts,
    agreements,
    bids,
    conversations,  # conversations and moderation (issue 14)
    email_preferences,  # e-mail choices (issue 14)
    evaluations,
    follows,
    group_constitution,
    group_memberships,
    group_work,
    groups,
    maps,
    matches,  # matching (issue 10)
    notifications,
    places,
    proposals,
    search,
    telemanagement,
    telemanagement_agreements,  # care plans made from agreements (issue 11)
    telemanagement_billing,  # telemanagement billing (issue 11)
    telemanagement_remote,  # visits across nodes (issue 11)
    telemanagement_replacements,  # replacement by providers applying (issue 11)
    timebank,
)
from node.http.runtime import node_of

PREFIX = "/api/v1"


def api() -> Api:
    """Every operation of version 1."""
    return Api(
        PREFIX,
        [
            *accounts.operations(),
            *follows.operations(),
            *agreements.operations(),
            *bids.operations(),
            *evaluations.operations(),
            *group_memberships.operations(),  # before groups: /groups/remote/... is no group
            *groups.operations(),
            *group_constitution.operations(),
            *group_work.operations(),
            *notifications.operations(),
            *places.operations(),
            *proposals.operations(),
            *timebank.operations(),  # time bank (issue 12)
            *telemanagement.operations(),  # telemanagement (issue 11)
            *telemanagement_billing.operations(),  # statements, resolutions, validations, invoices
            *telemanagement_remote.operations(),  # visits across nodes (issue 11)
            *telemanagement_agreements.operations(),  # care plans made from agreements (issue 11)
            *telemanagement_replacements.operations(),  # replacement by providers applying (issue 11)
            *conversations.operations(),  # conversations and moderation (issue 14)
            *search.operations(),  # search (issue 10)
            *maps.operations(),  # maps of search results (issue 10)
            *matches.operations(),  # matching (issue 10)
            *email_preferences.operations(),  # e-mail choices (issue 14)
        ],
    )


def routes(v1: Api) -> list[BaseRoute]:
    """The routes of ``v1``'s operations, and ``/api/v1/openapi.json`` describing them."""

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi.document(v1, node_of(request).settings))

    return [Route(PREFIX + "/openapi.json", openapi_json, name="openapi"), *v1.routes()]
