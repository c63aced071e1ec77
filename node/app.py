"""The node's web application: ``create_app(settings)`` builds everything; importing does nothing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from node import worker as background
from node.activitypub.inbox.dispatch import Dispatcher
from node.core import db
from node.core.i18n import Catalogs
from node.http import errors as web_errors
from node.http.api.v1 import accounts as api_routes
from node.http.federation import actors as activitypub_routes
from node.http.federation import inbox as activitypub_inbox_routes
from node.http.middleware import NodeMiddleware
from node.http.pages import notifications as notification_pages
from node.http.pages import routes as web_routes
from node.http.pages import templating
from node.http.pages.assets import STATIC_DIR, TEMPLATES_DIR, TRANSLATIONS_DIR
from node.http.runtime import Node
from node.settings import Settings

log = logging.getLogger("asasap")


def create_app(settings: Settings, *, engine: Engine | None = None, check_schema: bool = True) -> Starlette:
    """The Starlette application of a node. Refuses to build on a database that is not migrated."""
    engine = engine or db.make_engine(settings.effective_database_url)
    if check_schema:
        db.check_migrated(engine)
    catalogs = Catalogs.load(TRANSLATIONS_DIR)
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templating.install(templates, catalogs, settings)
    notification_pages.install(templates, engine)
    node = Node(
        settings=settings,
        engine=engine,
        catalogs=catalogs,
        templates=templates,
        secret=settings.effective_secret_key.encode(),
    )
    routes = [
        *api_routes.routes(),
        *activitypub_inbox_routes.routes(),
        *activitypub_routes.routes(),  # before the pages: /users/{name} negotiates HTML or JSON
        *web_routes.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                NodeMiddleware, max_body_bytes=settings.max_body_bytes, secure_cookies=settings.is_https
            )
        ],
        exception_handlers=web_errors.handlers(),
    )
    app.state.node = node
    dispatcher = background.inbox_dispatcher()
    activitypub_inbox_routes.install(app, settings, engine, accepted_types=dispatcher.types)
    if settings.embedded_worker:
        _embed_worker(app, settings, engine, dispatcher)
    return app


def _embed_worker(app: Starlette, settings: Settings, engine: Engine, dispatcher: Dispatcher) -> None:
    """Run the federation worker for as long as the application runs (``ASASAP_EMBEDDED_WORKER``)."""
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        worker = background.node_worker(settings, engine, app.state.remote_actors, dispatcher=dispatcher)
        async with outer(application) as state, background.running(worker):
            yield state

    app.router.lifespan_context = lifespan
