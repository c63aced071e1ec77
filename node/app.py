"""The node's web application, composed: ``create_app(settings)`` puts the packages' parts together and
hands them to the web layer (:mod:`node.http.application`); importing does nothing."""

from __future__ import annotations

from sqlalchemy import Engine

from node import worker
from node.activitypub.actors.remote import RemoteActors
from node.conversations import export as conversations_export
from node.core import db
from node.core.jobs import Worker
from node.groups import export as groups_export
from node.http.application import Application, build
from node.market import export as market_export
from node.research import figures as research_figures
from node.settings import Settings
from node.telemanagement import export as telemanagement_export
from node.timebank import views as timebank_views


def create_app(settings: Settings, *, engine: Engine | None = None, check_schema: bool = True) -> Application:
    """The application of a node. Refuses to build on a database that is not migrated."""
    engine = engine or db.make_engine(settings.effective_database_url)
    if check_schema:
        db.check_migrated(engine)
    dispatcher = worker.inbox_dispatcher()

    def embedded(remote: RemoteActors) -> Worker:
        return worker.node_worker(settings, engine, remote, dispatcher=dispatcher)

    return build(
        settings,
        engine,
        accepted_types=dispatcher.types,
        exporters=(
            market_export.sections,
            timebank_views.export_sections,
            groups_export.sections,
            conversations_export.sections_for(settings),  # conversations (issue 14)
            research_figures.export_sections,  # the choice about research figures (issue 15)
            telemanagement_export.sections_for(settings),  # telemanagement (issue 11)
        ),
        worker=embedded if settings.embedded_worker else None,
    )
