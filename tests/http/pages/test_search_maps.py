"""The map page (``/map``) without JavaScript: its tables and first results are the list, with links
to the searches; and the people-search page (``/people/search``), reached from the search page."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.accounts.models import User
from node.core import db
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.search import indexed


def test_map_page_tables_and_results(client: TestClient, engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        indexed(session, settings, "Ménage", category="housework")
        indexed(session, settings, "Tonte", category="gardening", insee="69123")
    page = client.get("/map", params={"q": "menage"})
    assert page.status_code == 200
    assert 'data-communes="/api/v1/map/local?q=menage"' in page.text
    assert "/static/vendor/leaflet/leaflet.js" in page.text
    communes = re.findall(r'<section aria-labelledby="communes-title">(.*?)</section>', page.text, re.S)[0]
    assert "Montreuil" in communes and "Lyon" not in communes
    assert "commune=93048" in communes
    assert "93 · Seine-Saint-Denis" in page.text
    assert re.findall(r'<h3><a href="[^"]+">([^<]+)</a></h3>', page.text) == ["Ménage"]
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/map", params={"radius": "5"}).status_code == 422  # no centre to measure from
    search = client.get("/proposals", params={"q": "menage"})
    assert 'href="/map?q=menage"' in search.text and 'href="/people/search"' in search.text


def test_people_page_by_category_status_and_reputation(client: TestClient, engine: Engine) -> None:
    for name, status in (("jardinier", "self_employed"), ("voisine", "volunteer")):
        user = make_user(engine, name)
        with db.session_scope(engine) as s:
            row = s.get(User, user.id)
            assert row is not None
            row.offers_services, row.provider_status, row.commune_insee = True, status, "93048"
            s.add(row)
    first = client.get("/people/search")
    assert first.status_code == 200 and "result-count" not in first.text
    both = client.get("/people/search", params={"place": "Bagnolet", "radius": "10"})
    assert "2 personnes" in both.text and "jardinier" in both.text and "voisine" in both.text
    only = client.get("/people/search", params={"provider_status": "volunteer", "sort": "reputation"})
    assert "1 personne" in only.text and "voisine" in only.text and "jardinier" not in only.text
    assert "Bénévole" in only.text
    assert client.get("/people/search", params={"sort": "name"}).status_code == 422
