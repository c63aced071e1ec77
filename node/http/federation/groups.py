"""The ActivityPub side of groups: ``/groups/{name}`` answers the ``Group`` to ActivityStreams requests
(the profile page otherwise, ``Vary: Accept``), and its collections: ``outbox``, ``followers``,
``following``, ``members``, ``moderators`` and ``evaluations`` (the published evaluations of the services
it provided); ``/activities/{uuid}`` serves a group's public activities (what it announces, and its
``Announce``s). Secure mode applies as for people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.activitypub.actors import documents
from node.groups import actors as group_actors
from node.groups import records
from node.http.errors import json_error
from node.http.federation.actors import (
    _html_page,
    _with_key,
    activity_json,
    signature_refusal,
    wants_activity_json,
)
from node.http.pages.market import evaluations as evaluation_pages
from node.http.runtime import node_of, run
from node.settings import Settings

Endpoint = Callable[[Request], Awaitable[Response]]


def group_endpoint(profile: Endpoint) -> Endpoint:
    """``GET /groups/{name}``: the ``Group`` as ActivityStreams, or ``profile`` (the page)."""

    async def endpoint(request: Request) -> Response:
        if not wants_activity_json(request.headers.get("accept", "")):
            return await _html_page(request, profile)
        refused = await signature_refusal(request)
        if refused is not None:
            refused.headers["Vary"] = "Accept"
            return refused
        settings = node_of(request).settings
        name = request.path_params["name"]
        document = await _with_key(
            request,
            lambda session, create: group_actors.load_group_document(
                settings, name, create_key=create, session=session
            ),
        )
        if document is None:
            return json_error(404, "not_found", "No such actor.", headers={"Vary": "Accept"})
        return activity_json(document, vary=True)

    return endpoint


def _evaluations(session: Session, settings: Settings, name: str, page: int | None) -> dict[str, Any] | None:
    group = records.by_name(name, session=session)
    if group is None:
        return None
    return evaluation_pages.evaluations_of(group_actors.actor_of(settings, group).uri, page, session=session)


def collection_endpoint(which: str, page_endpoint: Endpoint | None = None) -> Endpoint:
    """The collection ``which`` of a group; with ``page_endpoint``, browsers get that page instead."""

    async def endpoint(request: Request) -> Response:
        if page_endpoint is not None and not wants_activity_json(request.headers.get("accept", "")):
            return await _html_page(request, page_endpoint)
        refused = await signature_refusal(request)
        if refused is not None:
            return refused
        try:
            page = documents.parse_page(request.query_params.get("page"))
        except ValueError as exc:
            return json_error(400, "bad_request", str(exc))
        settings = node_of(request).settings
        name = request.path_params["name"]

        def load(session: Session) -> dict[str, Any] | None:
            if which in ("members", "moderators"):
                return group_actors.load_member_collection(settings, name, which, page, session=session)
            if which == "evaluations":
                return _evaluations(session, settings, name, page)
            assert which in documents.COLLECTIONS
            return group_actors.load_actor_collection(settings, name, which, page, session=session)

        document = await run(request, load)
        if document is None:
            return json_error(404, "not_found", "No such actor.")
        return activity_json(document)

    endpoint.__name__ = f"group_{which}"
    return endpoint


async def activity(request: Request) -> Response:
    """``GET /activities/{uuid}``: a group's public activity, as for its collections (signed in secure
    mode); browsers are sent to the group's page."""
    settings = node_of(request).settings
    activity_id = settings.url(f"/activities/{request.path_params['uuid']}")
    as_json = wants_activity_json(request.headers.get("accept", ""))
    if as_json and (refused := await signature_refusal(request)) is not None:
        refused.headers["Vary"] = "Accept"
        return refused
    document = await run(
        request, lambda session: group_actors.load_activity(settings, activity_id, session=session)
    )
    if document is None:
        return json_error(404, "not_found", "No such activity.", headers={"Vary": "Accept"})
    if not as_json:
        return RedirectResponse(
            urlsplit(str(document.get("actor", ""))).path or "/", status_code=303, headers={"Vary": "Accept"}
        )
    return activity_json(document, vary=True)


def routes(profile: Endpoint, members_page: Endpoint) -> list[BaseRoute]:
    """The group's URL and its collections; ``profile`` and ``members_page`` answer browsers."""
    names = ("outbox", "followers", "following", "moderators", "evaluations")
    return [
        Route("/groups/{name}", group_endpoint(profile), name="group"),
        Route("/groups/{name}/members", collection_endpoint("members", members_page)),
        *(Route(f"/groups/{{name}}/{which}", collection_endpoint(which)) for which in names),
        Route("/activities/{uuid}", activity, name="activity"),
    ]
