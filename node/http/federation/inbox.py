"""Inbox routes: ``POST /inbox`` (shared), ``/users/{username}/inbox`` and ``/actor/inbox`` (the node).

They read the body within the size limit, hand it to :class:`~node.activitypub.inbox.verify.Inbox` and
answer 202 with an empty body, or the JSON error shape of :mod:`node.http.errors`. Other methods
get 405. :func:`install` builds the inbox and the remote-actor cache for an application.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from node.accounts.actors import DIRECTORY
from node.activitypub.actors.remote import FetcherFactory, RemoteActors
from node.activitypub.inbox.verify import (
    Inbox,
    InboxError,
    IncomingRequest,
    PayloadTooLarge,
    RecipientNotFound,
)
from node.activitypub.signatures import Headers, VerificationKey
from node.core.metrics import METRICS
from node.groups import actors as group_actors
from node.http.errors import json_error
from node.http.federation.signed import request_target
from node.http.runtime import run
from node.settings import Settings


def install(
    app: Starlette,
    settings: Settings,
    engine: Engine,
    *,
    accepted_types: frozenset[str],
    fetcher_factory: FetcherFactory | None = None,
) -> Inbox:
    """Build the remote-actor cache and the inbox once for ``app`` and put them on ``app.state``; the
    inbox stores the ``accepted_types`` (those the node's dispatcher processes).

    Sets ``app.state.remote_actors``, ``app.state.inbox`` and ``app.state.key_lookup``
    (``await key_lookup(key_id, refresh)`` gives a :class:`VerificationKey`), and closes the
    cache's connections when the application shuts down.
    """
    remote = RemoteActors(settings, engine, fetcher_factory)
    inbox = Inbox(settings, engine, remote, accepted_types=accepted_types)
    app.state.remote_actors = remote
    app.state.inbox = inbox

    def key_lookup(key_id: str, refresh: bool) -> Awaitable[VerificationKey]:
        return remote.key_for(key_id, refresh=refresh)

    app.state.key_lookup = key_lookup
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with outer(application) as state:
            try:
                yield state
            finally:
                await remote.aclose()

    app.router.lifespan_context = lifespan
    return inbox


def _inbox(request: Request) -> Inbox:
    inbox = getattr(request.app.state, "inbox", None)
    if not isinstance(inbox, Inbox):
        raise RuntimeError("the inbox is not installed: create_app must call inbox_routes.install()")
    return inbox


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("The request body is too large.", f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive(request: Request, recipient_user_id: int | None) -> Response:
    inbox = _inbox(request)
    try:
        body = await _read_body(request, inbox.settings.max_body_bytes)
        incoming = IncomingRequest(
            method=request.method,
            target=request_target(request),
            headers=Headers.from_raw(request.headers.raw),
            body=body,
            scheme=urlsplit(inbox.settings.base_url).scheme,
        )
        await inbox.accept(incoming, recipient_user_id=recipient_user_id)
    except InboxError as exc:
        METRICS.inc("asasap_inbox_total", outcome=exc.code)
        return json_error(exc.status_code, exc.code, exc.message)
    METRICS.inc("asasap_inbox_total", outcome="accepted")
    return Response(status_code=202)


async def shared_inbox(request: Request) -> Response:
    return await _receive(request, None)


async def node_inbox(request: Request) -> Response:
    return await _receive(request, None)


async def user_inbox(request: Request) -> Response:
    username = request.path_params["username"]
    found = (
        await run(request, lambda session: DIRECTORY.find(username, session=session))
        if len(username) <= 30
        else None
    )
    user_id = found.pk if found is not None else None
    if user_id is None:
        error = RecipientNotFound("No such actor here.")
        return json_error(error.status_code, error.code, error.message)
    return await _receive(request, user_id)


async def group_inbox(request: Request) -> Response:
    """``POST /groups/{name}/inbox``: as the shared inbox, for an existing group."""
    name = request.path_params["name"]
    found = (
        await run(request, lambda session: group_actors.DIRECTORY.find(name, session=session))
        if len(name) <= 30
        else None
    )
    if found is None:
        error = RecipientNotFound("No such actor here.")
        return json_error(error.status_code, error.code, error.message)
    return await _receive(request, None)


def routes() -> list[BaseRoute]:
    return [
        Route("/inbox", shared_inbox, methods=["POST"]),
        Route("/actor/inbox", node_inbox, methods=["POST"]),
        Route("/users/{username}/inbox", user_inbox, methods=["POST"]),
        Route("/groups/{name}/inbox", group_inbox, methods=["POST"]),
    ]
