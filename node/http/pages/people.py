"""People and nodes of other servers as this node shows them: ``/people/<id>``, a local page for a
person of another server (no dead end on a server where one is not logged in), and the template global
``node_label(domain)`` that names another node by the name it gives itself rather than its host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from node.accounts import people
from node.activitypub.models import RemoteActor
from node.core.db import session_scope
from node.core.errors import N_, NotFound
from node.core.text import plain_text
from node.http.pages.market import proposals as proposal_pages
from node.http.pages.market.evaluations import reputation_context
from node.http.runtime import current_user, language_of, node_of, render, run
from node.market.proposals.records import open_of_remote_author

BIO_MAX = 2000
PROFILE_TYPES = ("Person", "Group", "Organization")


def node_labeller(engine: Engine) -> Callable[[str], str]:
    """The template global ``node_label(domain)``: the node's own name when known, else its domain."""

    def node_label(domain: str) -> str:
        with session_scope(engine) as session:
            return people.node_names([domain], session=session).get(domain, domain)

    return node_label


def install(env: Environment, engine: Engine) -> None:
    env.globals["node_label"] = node_labeller(engine)


async def remote_person(request: Request) -> Response:
    settings = node_of(request).settings
    viewer = await current_user(request)
    lang = language_of(request, viewer)
    actor_id = int(request.path_params["actor_id"])

    def load(session: Session) -> dict[str, Any]:
        actor: RemoteActor | None = people.remote_actor(actor_id, session=session)
        if actor is None or actor.gone_at is not None or actor.type not in PROFILE_TYPES:
            raise NotFound(N_("No such person."))
        return {
            "actor": actor,
            "bio": plain_text(actor.summary, BIO_MAX, multiline=True),
            "node": people.node_names([actor.domain], session=session).get(actor.domain, actor.domain),
            **reputation_context(session, actor.uri),
            "cards": proposal_pages.with_node_names(
                session,
                [
                    proposal_pages.card(settings, row, lang)
                    for row in open_of_remote_author(actor.uri, session=session)
                ],
            ),
        }

    return await render(request, "people/remote.html", await run(request, load))


def routes() -> list[Route]:
    return [Route(people.REMOTE_PROFILE_PATH + "/{actor_id:int}", remote_person, name="remote_person")]
