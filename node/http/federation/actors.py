"""ActivityPub and discovery routes: actors, their collections, WebFinger, host-meta and NodeInfo.

``/users/{username}`` and ``/actor`` answer ActivityStreams JSON to clients that ask for it and the
web page otherwise (``Vary: Accept``). With ``secure_mode`` on, ActivityStreams reads of people and of
collections need a valid HTTP signature; the node actor stays readable so that others can check ours.
The key lookup is injected as ``app.state.key_lookup`` (see :mod:`node.http.federation.signed`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.accounts import actors as accounts_actors
from node.activitypub import discovery
from node.activitypub.actors import documents as actors
from node.activitypub.actors import local
from node.activitypub.inbox.verify import InboxError
from node.core.db import session_scope
from node.core.errors import DomainError, http_status
from node.core.timeutil import utcnow
from node.groups import actors as group_actors
from node.http.errors import STATUS_CODES, error_response, json_error
from node.http.federation.signed import refusal, signer_key
from node.http.pages import accounts as account_pages
from node.http.runtime import node_of, run

log = logging.getLogger("asasap.activitypub")
T = TypeVar("T")

ACTIVITY_JSON = "application/activity+json; charset=utf-8"
_ACTIVITY_TYPES = frozenset({"application/activity+json", "application/ld+json"})
CORS = {"Access-Control-Allow-Origin": "*"}


Endpoint = Callable[[Request], Awaitable[Response]]


# --- helpers ------------------------------------------------------------------------------------


def wants_activity_json(accept: str) -> bool:
    """Whether an ``Accept`` header asks for ActivityStreams (activity+json or ld+json, any profile)."""
    for part in accept.split(","):
        media_type, *params = part.split(";")
        if media_type.strip().lower() not in _ACTIVITY_TYPES:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def activity_json(document: dict[str, Any], *, vary: bool = False) -> Response:
    headers = {"Vary": "Accept"} if vary else None
    return JSONResponse(document, media_type=ACTIVITY_JSON, headers=headers)


def _error(status: int, message: str, *, vary: bool = False, cors: bool = False) -> Response:
    headers = {**({"Vary": "Accept"} if vary else {}), **(CORS if cors else {})}
    return json_error(status, STATUS_CODES.get(status, "error"), message, headers=headers)


async def _html_page(request: Request, endpoint: Endpoint) -> Response:
    """The web page for a negotiated URL, with ``Vary: Accept`` also on its error pages."""
    try:
        response = await endpoint(request)
    except DomainError as exc:
        response = await error_response(request, http_status(exc), exc.message, code=exc.code)
    response.headers.add_vary_header("Accept")
    return response


async def _with_key(request: Request, load: Callable[[Session, bool], T]) -> T:
    """Run ``load(session, may_create_key)`` read-only; again in a write transaction if a key is missing."""
    engine = node_of(request).engine

    def work(create: bool) -> T:
        with session_scope(engine, write=create) as session:
            return load(session, create)

    try:
        return await run_in_threadpool(work, False)
    except actors.KeyMissing:
        return await run_in_threadpool(work, True)


async def signature_refusal(request: Request) -> Response | None:
    """None when the request may be answered; else the 400/401 to send (secure mode only)."""
    if not node_of(request).settings.secure_mode:
        return None
    try:
        await signer_key(request, unsigned="This node requires signed requests (secure mode).")
    except InboxError as exc:
        return refusal(exc)
    return None


# --- actors -------------------------------------------------------------------------------------


async def person(request: Request) -> Response:
    """``GET /users/{username}``: the Person as ActivityStreams, or the profile page."""
    if not wants_activity_json(request.headers.get("accept", "")):
        return await _html_page(request, account_pages.profile)
    refused = await signature_refusal(request)
    if refused is not None:
        refused.headers["Vary"] = "Accept"
        return refused
    settings = node_of(request).settings
    username = request.path_params["username"]
    document = await _with_key(
        request,
        lambda session, create: accounts_actors.person_document(
            settings, username, create_key=create, session=session
        ),
    )
    if document is None:
        return _error(404, "No such actor.", vary=True)
    return activity_json(document, vary=True)


async def node_actor(request: Request) -> Response:
    """``GET /actor``: the node's Application actor (never behind secure mode), or the home page."""
    if not wants_activity_json(request.headers.get("accept", "")):
        return RedirectResponse("/", status_code=302, headers={"Vary": "Accept"})
    settings = node_of(request).settings
    document = await _with_key(
        request,
        lambda session, create: actors.load_node_document(settings, create_key=create, session=session),
    )
    return activity_json(document, vary=True)


def collection_endpoint(name: actors.CollectionName, *, of_node: bool) -> Endpoint:
    """The handler of one collection (outbox, followers, following) of people or of the node."""

    async def endpoint(request: Request) -> Response:
        refused = await signature_refusal(request)
        if refused is not None:
            return refused
        try:
            page = actors.parse_page(request.query_params.get("page"))
        except ValueError as exc:
            return _error(400, str(exc))
        username = None if of_node else request.path_params["username"]
        settings = node_of(request).settings
        document = await run(
            request,
            lambda session: actors.load_collection(
                settings, username, name, page, session=session, accounts=accounts_actors.DIRECTORY
            ),
        )
        if document is None:
            return _error(404, "No such actor.")
        return activity_json(document)

    endpoint.__name__ = f"{'node' if of_node else 'person'}_{name}"
    return endpoint


# --- discovery ----------------------------------------------------------------------------------


async def webfinger(request: Request) -> Response:
    """``GET /.well-known/webfinger?resource=...``"""
    settings = node_of(request).settings
    resources = request.query_params.getlist("resource")
    if len(resources) != 1:
        return _error(400, "exactly one resource parameter is required", cors=True)
    try:
        username = discovery.parse_resource(settings, resources[0])
    except discovery.MalformedResource as exc:
        return _error(400, str(exc), cors=True)
    if username is None:
        return _error(404, "No such resource on this node.", cors=True)
    actor_type: str | None = None
    if username == local.NODE_USERNAME:
        actor_uri, profile_url = local.node_actor(settings).uri, settings.url("/")
    else:
        wanted = username
        user = await run(request, lambda session: accounts_actors.active_person(wanted, session=session))
        group = None
        if user is None:  # no person of that name: a group (micro-organisation) of that name?
            group = await run(request, lambda session: group_actors.DIRECTORY.find(wanted, session=session))
        if user is not None:
            username = user.username
            actor_uri = profile_url = local.person(settings, user).uri
        elif group is not None:
            username, actor_type = group.name, "Group"
            actor_uri = profile_url = local.group(settings, group.name).uri
        else:
            return _error(404, "No such resource on this node.", cors=True)
    document = discovery.webfinger_document(settings, username, actor_uri, profile_url, actor_type=actor_type)
    document = discovery.filter_links(document, request.query_params.getlist("rel"))
    return JSONResponse(document, media_type=discovery.JRD_MEDIA_TYPE, headers=CORS)


async def host_meta(request: Request) -> Response:
    """``GET /.well-known/host-meta`` (XRD)."""
    body = discovery.host_meta_xml(node_of(request).settings)
    return Response(body, media_type=discovery.XRD_MEDIA_TYPE, headers=CORS)


async def host_meta_json(request: Request) -> Response:
    """``GET /.well-known/host-meta.json``."""
    return JSONResponse(discovery.host_meta_json(node_of(request).settings), headers=CORS)


async def nodeinfo_index(request: Request) -> Response:
    """``GET /.well-known/nodeinfo``."""
    return JSONResponse(discovery.nodeinfo_index(node_of(request).settings), headers=CORS)


async def nodeinfo(request: Request) -> Response:
    """``GET /nodeinfo/2.0`` and ``/nodeinfo/2.1``."""
    version = next((v for v in discovery.NODEINFO_VERSIONS if v == request.path_params["version"]), None)
    if version is None:
        return _error(404, "No such NodeInfo version.", cors=True)
    settings = node_of(request).settings
    usage = await run(request, lambda session: accounts_actors.usage(now=utcnow(), session=session))
    repository, homepage = discovery.software_urls()
    document = discovery.nodeinfo_document(
        settings, version, usage, discovery.software_version(), repository=repository, homepage=homepage
    )
    return JSONResponse(document, media_type=discovery.nodeinfo_media_type(version), headers=CORS)


def routes() -> list[BaseRoute]:
    collections: list[BaseRoute] = []
    for name in actors.COLLECTIONS:
        collections.append(Route(f"/users/{{username}}/{name}", collection_endpoint(name, of_node=False)))
        collections.append(Route(f"{local.NODE_ACTOR_PATH}/{name}", collection_endpoint(name, of_node=True)))
    return [
        Route("/.well-known/webfinger", webfinger),
        Route("/.well-known/host-meta", host_meta),
        Route("/.well-known/host-meta.json", host_meta_json),
        Route("/.well-known/nodeinfo", nodeinfo_index),
        Route("/nodeinfo/{version}", nodeinfo),
        Route(local.NODE_ACTOR_PATH, node_actor),
        Route("/users/{username}", person),
        *collections,
    ]
