"""The search's origin filter in its four states (every node, this node, the others, one given node) in
the API and the forms, and its count bounded at ``COUNT_CAP`` ("more than 100")."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.search import engine as search_engine
from node.settings import Settings
from tests.support.search import indexed


@pytest.fixture
def three_origins(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        indexed(session, settings, "Ménage ici")
        indexed(session, settings, "Ménage chez B", origin="b.example")
        indexed(session, settings, "Ménage chez C", origin="c.example:8443")


def titles(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/v1/search", params={"q": "ménage", "sort": "date", **params})
    assert response.status_code == 200, response.text
    return sorted(item["proposal"]["title"] for item in response.json()["items"])


@pytest.mark.usefixtures("three_origins")
def test_origin_every_node_this_node_the_others_or_one(client: TestClient) -> None:
    assert titles(client) == ["Ménage chez B", "Ménage chez C", "Ménage ici"]
    assert titles(client, origin="all") == ["Ménage chez B", "Ménage chez C", "Ménage ici"]
    assert titles(client, origin="local") == ["Ménage ici"]
    assert titles(client, origin="remote") == ["Ménage chez B", "Ménage chez C"]
    assert titles(client, origin="b.example") == ["Ménage chez B"]
    assert titles(client, origin="C.example:8443") == ["Ménage chez C"]
    assert titles(client, origin="d.example") == []
    answer = client.get("/api/v1/search", params={"q": "ménage", "origin": "d.example"}).json()
    assert [w["query"] for w in answer["widen"] if w["kind"] == "origin"] == ["q=m%C3%A9nage"]
    for bad in ("not a host", "b.example/x", "-b.example", "b.example:99999999"):
        response = client.get("/api/v1/search", params={"origin": bad})
        assert response.status_code == 422, bad
        assert set(response.json()["error"]["fields"]) == {"origin"}


@pytest.mark.usefixtures("three_origins")
def test_the_forms_offer_each_known_node(client: TestClient) -> None:
    for path in ("/proposals", "/map"):
        page = client.get(path, params={"origin": "b.example"})
        assert page.status_code == 200, page.text
        assert '<option value="b.example" selected>' in page.text
        assert '<option value="c.example:8443">' in page.text
        assert '<option value="remote">' in page.text
    page = client.get("/proposals", params={"origin": "b.example", "q": "ménage"})
    assert "Ménage chez B" in page.text and "Ménage ici" not in page.text


@pytest.mark.usefixtures("three_origins")
def test_a_count_past_the_cap_says_so(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = client.get("/api/v1/search", params={"q": "ménage"}).json()
    assert (answer["total"], answer["total_exact"], answer["pages"]) == (3, True, 1)
    monkeypatch.setattr(search_engine, "COUNT_CAP", 2)
    monkeypatch.setattr(search_engine, "PAGE_SIZE", 1)
    answer = client.get("/api/v1/search", params={"q": "ménage"}).json()
    assert (answer["total"], answer["total_exact"], answer["next_page"]) == (2, False, 2)
    third = client.get("/api/v1/search", params={"q": "ménage", "page": "3"}).json()
    assert (len(third["items"]), third["total_exact"], third["next_page"]) == (1, False, None)
    page = client.get("/proposals", params={"q": "ménage"}, headers={"Accept-Language": "fr"})
    assert "Plus de 2 résultats" in page.text
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["SearchResults"]
    assert "total_exact" in schema["properties"]
