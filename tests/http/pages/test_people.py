"""People and nodes of other servers on this node's pages: a local profile page for a remote person
(instead of a link to a server where one is not logged in), and other nodes named by their own name."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.accounts import people
from node.activitypub.models import RemoteActor
from node.core import db
from node.settings import Settings
from tests.support.market import make_proposal

OTHER = "https://bagnolet.example"
PICTURE = "ab" * 16  # our copy of her picture


def _remote(engine: Engine) -> tuple[int, int]:
    with db.session_scope(engine) as s:
        person = RemoteActor(
            uri=f"{OTHER}/users/bea",
            domain="bagnolet.example",
            inbox=f"{OTHER}/users/bea/inbox",
            preferred_username="bea",
            name="Béa Martin",
            summary="<p>Jardinière <b>à Bagnolet</b>.</p>",
            url=f"{OTHER}/@bea",
            icon_url=f"{OTHER}/bea.png",
            avatar=PICTURE,
        )
        node = RemoteActor(
            uri=f"{OTHER}/actor",
            type="Application",
            domain="bagnolet.example",
            inbox=f"{OTHER}/inbox",
            name="Bagnolet Entraide",
        )
        s.add(person)
        s.add(node)
        s.flush()
        assert person.id is not None and node.id is not None
        return person.id, node.id


def test_a_remote_person_has_a_local_page(client: TestClient, engine: Engine, settings: Settings) -> None:
    person_id, node_id = _remote(engine)
    with Session(engine) as s:
        make_proposal(s, settings, author_uri=f"{OTHER}/users/bea", purpose="offer")
        described = people.person(settings, f"{OTHER}/users/bea", session=s)
        assert described.url == f"/people/{person_id}"
        assert people.node_names(["bagnolet.example", "unknown.example"], session=s) == {
            "bagnolet.example": "Bagnolet Entraide"
        }

    page = client.get(f"/people/{person_id}")
    assert page.status_code == 200
    text = page.text
    assert '<h1 id="person-name">Béa Martin</h1>' in text
    assert "Membre de Bagnolet Entraide, un autre nœud" in text
    assert "Jardinière à Bagnolet." in text and "<b>" not in text  # the summary as plain text
    assert "@bea@bagnolet.example" in text
    assert "Ménage hebdomadaire à Montreuil" in text  # their open proposals known here
    assert f'href="{OTHER}/@bea"' in text  # the original, as a secondary link
    assert f'src="/avatars/{PICTURE}.jpg"' in text and f"{OTHER}/bea.png" not in text  # our copy

    # The listing names the other node by its name, never by its host (which only the origin filter's
    # choice carries, as the value sent back, not shown).
    listing = client.get("/proposals").text
    shown = re.sub(r"<[^>]*>", " ", listing)
    assert "Sur Bagnolet Entraide" in shown and "bagnolet.example" not in shown
    assert '<option value="bagnolet.example">Sur Bagnolet Entraide</option>' in listing
    assert f'src="/avatars/{PICTURE}.jpg"' in listing  # the author's picture on the card

    assert client.get(f"/people/{node_id}").status_code == 404  # a node is not a person
    assert client.get("/people/999999").status_code == 404
