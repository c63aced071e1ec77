"""The web application of a node, built from parts the node composes (:func:`node.app.create_app`):
pages, the JSON API, the ActivityPub endpoints and static files, behind one middleware, with the inbox
and, when the node runs it embedded, the worker living as long as the application."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from node.accounts.gdpr import Exporter
from node.activitypub.actors.remote import RemoteActors
from node.core.i18n import Catalogs
from node.core.jobs import Worker, running
from node.http import errors as web_errors
from node.http import observability
from node.http.api import v1
from node.http.federation import actors as federation_actors
from node.http.federation import inbox as federation_inbox
from node.http.middleware import NodeMiddleware
from node.http.pages import people as people_pages
from node.http.pages import routes as page_routes
from node.http.pages import templating
from node.http.pages.assets import STATIC_DIR, TEMPLATES_DIR, TRANSLATIONS_DIR
from node.http.routing import RouteIndex
from node.http.runtime import Node
from node.settings import Settings

Application = Starlette
WorkerFactory = Callable[[RemoteActors], Worker]
"""Builds the worker embedded in the application, given the application's remote-actor cache."""


def build(
    settings: Settings,
    engine: Engine,
    *,
    accepted_types: frozenset[str],
    exporters: Sequence[Exporter] = (),
    worker: WorkerFactory | None = None,
) -> Application:
    """The application: the inbox stores ``accepted_types``; account exports hold the sections of
    ``exporters``; ``worker`` (when given) runs for as long as the application."""
    catalogs = Catalogs.load(TRANSLATIONS_DIR)
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    templating.install(templates, catalogs, settings)
    people_pages.install(templates, engine)
    node = Node(
        settings=settings,
        engine=engine,
        catalogs=catalogs,
        templates=templates,
        secret=settings.effective_secret_key.encode(),
        exporters=tuple(exporters),
    )
    routes = [
        *observability.routes(),
        *v1.routes(v1.api()),
        *federation_inbox.routes(),
        *federation_actors.routes(),  # before the pages: /users/{name} negotiates HTML or JSON
        *page_routes.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=[RouteIndex(routes)],  # tried by the segments their paths begin with
        middleware=[
            Middleware(
                NodeMiddleware,
                max_body_bytes=settings.max_body_bytes,
                secure_cookies=settings.is_https,
                body_timeout=settings.body_timeout_seconds,
            )
        ],
        exception_handlers=web_errors.handlers(),
    )
    app.state.node = node
    federation_inbox.install(app, settings, engine, accepted_types=accepted_types)
    if engine.dialect.name == "postgresql":
        # Web processes on PostgreSQL (several of them, scaled out) add their counters to /metrics
        # through heartbeats. A node on SQLite is one machine: its web process shows its own counters.
        observability.install_heartbeat(app)
    if worker is not None:
        _embed(app, worker)
    return app


def _embed(app: Starlette, factory: WorkerFactory) -> None:
    """Run the worker for as long as the application runs (``ASASAP_EMBEDDED_WORKER``)."""
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with outer(application) as state, running(factory(app.state.remote_actors)):
            yield state

    app.router.lifespan_context = lifespan
