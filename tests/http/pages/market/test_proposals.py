"""Pages of offers and demands: browse with filters, post and edit forms (with errors shown on the
form), the proposal page and its ActivityStreams twin, withdrawal, my proposals, remote proposals."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.market.proposals.records import fold
from tests.support.accounts import make_user
from tests.support.market import PROPOSAL_FORM
from tests.support.pages import csrf, login, post_form

AS = {"Accept": "application/activity+json"}
FORM = PROPOSAL_FORM


@pytest.fixture
def alice(client: TestClient, engine: Engine) -> TestClient:
    make_user(engine, "alice")
    login(client, "alice")
    return client


def publish(client: TestClient, **changes: Any) -> str:
    response = post_form(client, "/proposals/new", {**FORM, **changes})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("http://testserver/proposals/") and location.endswith("?saved=created")
    return location.split("?")[0].removeprefix("http://testserver")


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Proposal)).one())


def test_posting_an_offer(alice: TestClient, engine: Engine) -> None:
    form = alice.get("/proposals/new?purpose=request")
    assert form.status_code == 200
    assert 'id="f-purpose-request" name="purpose" value="request" checked' in form.text
    assert '<script src="/static/places.js" defer></script>' in form.text
    assert 'data-places data-places-postal="f-postal_code"' in form.text
    path = publish(alice)
    page = alice.get(path + "?saved=created")
    assert page.status_code == 200 and page.headers["vary"] == "Accept"
    text = page.text
    assert '<h1 id="p-title">Repassage en soirée</h1>' in text
    assert "18,50\u00a0€/h" in text and "Montreuil (93100)" in text and "2\u00a0h" in text
    assert "<p>Chemises et draps.</p><p>Le soir en semaine.</p>" in text
    assert "bids/_on_proposal.html" in text or 'id="answers"' in text
    assert f'action="{path}/withdraw"' in text and f'href="{path}/edit"' in text


def test_bad_input_shows_the_form_again(alice: TestClient, engine: Engine) -> None:
    response = post_form(
        alice,
        "/proposals/new",
        {**FORM, "title": "Abc", "price": "900", "commune_name": "Lyon"},
        token_from="/proposals/new",
    )
    assert response.status_code == 422
    for name in ("title", "price", "commune_name"):
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', response.text), name
    assert 'class="alert error-summary"' in response.text
    assert 'value="Abc"' in response.text  # what was typed is kept
    assert stored(engine) == 0
    assert alice.post("/proposals/new", data=FORM).status_code == 403  # no CSRF token
    assert stored(engine) == 0


def test_script_in_the_form_is_not_stored(alice: TestClient) -> None:
    path = publish(
        alice,
        title="<script>alert(1)</script>Repassage soigné",
        description="<b>gras</b> <script>x()</script>",
    )
    page = alice.get(path).text
    assert "alert(1)" not in page and "x()" not in page
    assert "<p>gras</p>" in page and "Repassage soigné" in page


def test_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/proposals/new")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/proposals/new"
    assert client.get("/me/proposals").status_code == 303
    assert client.get("/proposals").status_code == 200  # browsing is public


def test_browse_with_filters(alice: TestClient, engine: Engine) -> None:
    publish(alice)
    publish(
        alice,
        purpose="request",
        title="Jardinage à Bagnolet",
        category="gardening",
        postal_code="93170",
        commune_name="Bagnolet",
        price="",
    )
    with Session(engine) as session:
        session.add(
            Proposal(
                ap_id="https://lyon.example/proposals/7",
                origin="lyon.example",
                author_uri="https://lyon.example/users/leo",
                purpose="offer",
                title="Cours d'informatique",
                search_text=fold("Cours d'informatique Lyon"),
                category="computer-assistance",
                commune_insee="69123",
                commune_name="Lyon",
                departement="69",
                expires_at=utcnow() + timedelta(days=3),
            )
        )
        session.commit()

    def titles(**params: str) -> list[str]:
        page = alice.get("/proposals", params=params)
        assert page.status_code == 200
        return re.findall(r'<h3><a href="[^"]+">([^<]+)</a></h3>', page.text)

    assert titles() == ["Cours d&#39;informatique", "Jardinage à Bagnolet", "Repassage en soirée"]
    assert titles(purpose="request") == ["Jardinage à Bagnolet"]
    assert titles(category="laundry-delivery") == ["Repassage en soirée"]
    # a typed place is a centre: within 10 km unless a distance is chosen, nearest first
    assert titles(place="Bagnolet") == ["Jardinage à Bagnolet", "Repassage en soirée"]
    assert titles(place="93100", radius="2") == ["Repassage en soirée"]
    assert titles(place="Bagnolet", radius="")[-1] == "Cours d&#39;informatique"
    assert titles(place="69") == ["Cours d&#39;informatique"]
    assert titles(departement="93") == ["Jardinage à Bagnolet", "Repassage en soirée"]
    assert titles(origin="remote") == ["Cours d&#39;informatique"]
    assert titles(origin="local", q="jardin") == ["Jardinage à Bagnolet"]
    refused = alice.get("/proposals", params={"purpose": "nonsense", "origin": "mars"})
    assert refused.status_code == 422 and 'href="#f-purpose"' in refused.text  # named, not searched
    remote = alice.get("/proposals", params={"origin": "remote"}).text
    assert 'href="/proposals/remote/' in remote and "lyon.example" in remote
    page = alice.get("/proposals", params={"place": "Zzzzzz"})
    assert page.status_code == 422 and 'id="e-place"' in page.text


def test_a_remote_proposal_page(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        row = Proposal(
            ap_id="https://lyon.example/proposals/7",
            origin="lyon.example",
            author_uri="https://lyon.example/users/leo",
            purpose="request",
            title="Aide informatique",
            description="<p>Installer une imprimante.</p>",
            price_currency="EUR",
            price_basis="total",
        )
        session.add(row)
        session.commit()
        row_id = row.id
    page = client.get(f"/proposals/remote/{row_id}")
    assert page.status_code == 200
    assert "lyon.example" in page.text and 'href="https://lyon.example/proposals/7"' in page.text
    assert "<p>Installer une imprimante.</p>" in page.text
    assert client.get("/proposals/remote/99999").status_code == 404


def test_activity_json_of_a_proposal(alice: TestClient, engine: Engine) -> None:
    path = publish(alice)
    document = alice.get(path, headers=AS)
    assert document.status_code == 200 and document.headers["content-type"].startswith(
        "application/activity+json"
    )
    assert document.headers["vary"] == "Accept"
    body = document.json()
    assert body["type"] == "Proposal" and body["id"] == "http://testserver" + path
    assert (
        body["attributedTo"] == "http://testserver/users/alice" and body["location"]["inseeCode"] == "93048"
    )
    note = alice.get(path + "/note", headers=AS).json()
    assert note["type"] == "Note" and note["url"] == body["id"]
    assert alice.get(path + "/note").status_code == 303
    assert alice.get("/proposals/00000000-0000-0000-0000-000000000000", headers=AS).status_code == 404
    assert alice.get("/proposals/not-a-uuid").status_code == 404


def test_edit_and_withdraw(alice: TestClient, engine: Engine) -> None:
    path = publish(alice)
    form = alice.get(path + "/edit")
    assert form.status_code == 200 and 'value="Repassage en soirée"' in form.text
    assert 'value="18.50"' in form.text and 'type="hidden" name="purpose" value="offer"' in form.text
    values = {**FORM, "title": "Repassage et pliage", "lifetime_days": ""}
    changed = post_form(alice, path + "/edit", values)
    assert changed.status_code == 303
    assert "Repassage et pliage" in alice.get(path).text
    bad = post_form(alice, path + "/edit", {**values, "quantity": "9000"})
    assert bad.status_code == 422 and re.search(r'id="f-quantity"[^>]*aria-invalid="true"', bad.text)
    mine = alice.get("/me/proposals")
    assert "Repassage et pliage" in mine.text
    token = csrf(alice, "/me/proposals", path + "/withdraw")
    # Without JavaScript, the first submission asks on a page of its own, and changes nothing.
    asked = alice.post(path + "/withdraw", data={"csrf_token": token})
    assert asked.status_code == 200 and "Veuillez confirmer" in asked.text
    assert 'name="confirmed" value="1"' in asked.text and "Repassage et pliage" in alice.get(path).text
    assert f'action="{path}/withdraw"' in alice.get("/me/proposals").text
    withdrawn = alice.post(path + "/withdraw", data={"csrf_token": token, "confirmed": "1"})
    assert withdrawn.status_code == 303 and withdrawn.headers["location"] == "/me/proposals?saved=withdrawn"
    gone = alice.get(path, headers=AS)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
    assert alice.get(path).status_code == 200  # the author still sees it
    assert alice.get("/proposals").text.count("Repassage et pliage") == 0
    late = alice.post(path + "/edit", data={"csrf_token": csrf(alice, "/proposals/new"), **values})
    assert late.status_code == 409 and 'role="alert"' in late.text


def test_others_cannot_edit_or_withdraw(client: TestClient, engine: Engine) -> None:
    make_user(engine, "alice")
    make_user(engine, "bob")
    login(client, "alice")
    path = publish(client)
    token = csrf(client, path, path + "/withdraw")
    client.post("/logout", data={"csrf_token": token})
    login(client, "bob")
    assert client.get(path + "/edit").status_code == 403
    token = csrf(client, "/proposals/new")
    assert client.post(path + "/withdraw", data={"csrf_token": token}).status_code == 403
    assert (
        client.post(path + "/edit", data={"csrf_token": token, **FORM, "title": "Piraté !"}).status_code
        == 403
    )
    assert "Piraté" not in client.get(path).text
    client.post("/logout", data={"csrf_token": token})
    assert client.get(path).status_code == 200  # anyone may read an open proposal
    gone = client.get(path, headers={"Accept": "text/html"})
    assert gone.status_code == 200


def test_navigation_and_script(client: TestClient, alice: TestClient) -> None:
    page = alice.get("/proposals").text
    assert '<li><a href="/proposals" aria-current="page">' in page and '<li><a href="/proposals/new">' in page
    assert '<li><a href="/me/proposals">' in alice.get("/me").text
    script = client.get("/static/places.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "/api/v1/places?q=" in script.text and 'setAttribute("role", "combobox")' in script.text
