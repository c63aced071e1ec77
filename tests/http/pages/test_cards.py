"""The cards of a listing write their authors' pictures as the ``avatar_img`` macro does (the cards'
template writes them itself, without a macro call per card, on the hot path of every listing)."""

from __future__ import annotations

from markupsafe import escape
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.accounts import people
from node.accounts.models import User
from node.accounts.people import Person
from node.activitypub.actors import local
from node.core import db
from node.core.i18n import current_language
from node.settings import Settings
from tests.support.market import make_proposal, person


def avatar_macro(app: Starlette, who: Person) -> str:
    """What the ``avatar_img`` macro of macros.html writes for ``who``."""
    template = app.state.node.templates.from_string(
        '{% from "macros.html" import avatar_img %}{{ avatar_img(who) }}'
    )
    token = current_language.set("fr")
    try:
        return str(template.render(who=who))
    finally:
        current_language.reset(token)


def test_the_cards_write_the_authors_pictures_as_the_macro_does(
    app: Starlette, client: TestClient, engine: Engine, settings: Settings
) -> None:
    pictured, plain = person(engine, "photographe"), person(engine, "discret")
    with db.session_scope(engine, write=True) as write:
        row = write.get(User, pictured.pk)
        assert row is not None
        row.avatar, row.display_name = "ab" * 16, "Amina <Photo>"
    with Session(engine) as session:
        make_proposal(session, settings, pictured, purpose="offer")
        make_proposal(session, settings, plain, purpose="offer")
    page = client.get("/proposals").text
    uris = [local.person(settings, author).uri for author in (pictured, plain)]
    with Session(engine) as session:
        authors = people.describe(settings, uris, session=session)
    assert [authors[uri].avatar is not None for uri in uris] == [True, False]  # both kinds are compared
    for uri in uris:
        who = authors[uri]
        assert f'<p class="person-line">{avatar_macro(app, who)} {escape(who.label)}' in page
