"""``GET /api/v1/proposals?q=`` reads its words as the search does (through the full-text index): stems,
accents, synonyms and the prefix of the last word, with the listing's own filters and order."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.search import indexed


def titles(client: TestClient, **params: str) -> list[str]:
    answer = client.get("/api/v1/proposals", params=params)
    assert answer.status_code == 200, answer.text
    return [item["title"] for item in answer.json()["items"]]


def test_words_through_the_index(client: TestClient, engine: Engine, settings: Settings) -> None:
    now = utcnow()
    with Session(engine) as session:
        indexed(session, settings, "Ménage hebdomadaire", published=now - timedelta(hours=2))
        indexed(session, settings, "Nettoyage des vitres", published=now - timedelta(hours=1))
        indexed(session, settings, "Tonte de pelouse", category="gardening", insee="69123")
        indexed(session, settings, "Cours de piano", description="<p>Pour débutants</p>")
    assert titles(client, q="entretien") == ["Nettoyage des vitres", "Ménage hebdomadaire"]  # synonyms
    assert titles(client, q="MENAGES") == ["Nettoyage des vitres", "Ménage hebdomadaire"]
    assert titles(client, q="jardinage") == ["Tonte de pelouse"]  # the category's label
    assert titles(client, q="debutant") == ["Cours de piano"]
    assert titles(client, q="pian") == ["Cours de piano"]  # the last word is a prefix
    assert titles(client, q="entretien", commune="69123") == []
    assert titles(client, q='" OR * NEAR -') == []  # no query syntax: plain words that match nothing
    assert len(titles(client, q="le la de")) == 4  # stop words only: no condition on the words
