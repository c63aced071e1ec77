"""The search page (``/proposals``): the count, pages of 20, distances, wider searches when nothing
matches, and saving a search (``/me/searches``), whose forms also answer a reload (GET)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.core.timeutil import utcnow
from node.search.models import SavedSearch
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.pages import login, post_form
from tests.support.search import indexed


@pytest.fixture
def alice(client: TestClient, engine: Engine) -> TestClient:
    make_user(engine, "alice")
    login(client, "alice")
    return client


def titles(page_html: str) -> list[str]:
    return re.findall(r'<h3><a href="[^"]+">([^<]+)</a></h3>', page_html)


def test_count_pages_and_distances(client: TestClient, engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        for i in range(23):
            indexed(session, settings, f"Ménage numéro {i}", published=utcnow() - timedelta(hours=i))
        indexed(session, settings, "Ménage à Lyon", insee="69123")
    first = client.get("/proposals", params={"q": "entretien", "place": "Bagnolet", "sort": "date"})
    assert first.status_code == 200
    assert "23 résultats" in first.text and "distances depuis Bagnolet" in first.text
    assert titles(first.text)[:2] == ["Ménage numéro 0", "Ménage numéro 1"] and len(titles(first.text)) == 20
    assert "Page 1 sur 2" in first.text and "2,3\u00a0km" not in first.text
    assert re.search(r"Montreuil \(93100\) · \d,\d km", first.text)
    second = client.get(
        "/proposals", params={"q": "entretien", "place": "Bagnolet", "sort": "date", "page": "2"}
    )
    assert titles(second.text) == ["Ménage numéro 20", "Ménage numéro 21", "Ménage numéro 22"]
    everywhere = client.get("/proposals", params={"q": "entretien", "place": "Bagnolet", "radius": ""})
    assert "24 résultats" in everywhere.text


def test_nothing_found_suggests_wider_searches(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        indexed(session, settings, "Tonte de pelouse", insee="69123", category="gardening")
    page = client.get("/proposals", params={"q": "tonte", "place": "Bagnolet", "category": "gardening"})
    assert page.status_code == 200 and titles(page.text) == []
    links = re.findall(r'<ul class="widen">(.*?)</ul>', page.text, re.S)[0]
    assert "radius=40" in links and "Chercher plus loin" in links and "Chercher sans les mots" in links
    wider = re.findall(r'href="(/proposals\?[^"]*radius=40[^"]*)"', links)[0].replace("&amp;", "&")
    assert titles(client.get(wider).text) == []
    assert titles(client.get("/proposals?q=tonte&commune=93006&radius=1000").text) == ["Tonte de pelouse"]


def test_saving_a_search(alice: TestClient, engine: Engine) -> None:
    page = alice.get("/proposals", params={"q": "repassage", "place": "Montreuil"})
    assert 'action="/me/searches"' in page.text
    saved = post_form(
        alice,
        "/me/searches",
        {"name": "Repassage", "query": "q=repassage&commune=93048&radius=10"},
        token_from="/proposals?q=repassage",
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/me/searches?saved=1"
    listing = alice.get("/me/searches?saved=1")
    assert "Repassage" in listing.text and "q=repassage&amp;commune=93048&amp;radius=10" in listing.text
    with Session(engine) as session:
        [row] = session.exec(select(SavedSearch)).all()
    reload = alice.get(f"/me/searches/{row.id}/delete")  # a reload: back to the list, nothing deleted
    assert reload.status_code == 303 and reload.headers["location"] == "/me/searches"
    deleted = post_form(alice, f"/me/searches/{row.id}/delete", {}, token_from="/me/searches")
    assert deleted.status_code == 303
    with Session(engine) as session:
        assert session.exec(select(SavedSearch)).all() == []
    assert alice.get("/proposals", params={"radius": "-1"}).status_code == 422
