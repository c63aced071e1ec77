"""The "Suggestions pour vous" page: demands a provider could answer with their reasons, offers that
answer a person's demands, and the matching settings (radius, alerts) with a bad radius refused."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.core import db
from node.core.timeutil import utcnow
from node.search.matching import alerts
from node.search.matching.models import MatchSettings
from node.settings import Settings
from tests.support.matching import proposal_of, provider
from tests.support.pages import login, post_form


def test_suggestions_page(client: TestClient, settings: Settings, engine: Engine) -> None:
    gardener = provider(engine, "gardener", categories=("gardening",), insee="93006", alerts=False)
    alice = provider(engine, "alice", status="none")
    proposal_of(engine, settings, alice, "Tonte de pelouse", category="gardening")
    proposal_of(engine, settings, gardener, "Jardinage et taille", purpose="offer", category="gardening")
    assert client.get("/me/suggestions").status_code in (302, 303)
    login(client, "gardener")
    assert 'href="/me/suggestions"' in client.get("/me", headers={"Accept-Language": "fr"}).text
    assert 'href="/me/suggestions"' in client.get("/", headers={"Accept-Language": "fr"}).text
    page = client.get("/me/suggestions", headers={"Accept-Language": "fr"}).text
    assert "Suggestions pour vous" in page and "Tonte de pelouse" in page and "même service" in page
    bad = post_form(client, "/me/suggestions", {"radius_km": "-3", "alerts": "on"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    with Session(engine) as session:
        assert session.get(MatchSettings, gardener.pk) is not None
        assert session.get(MatchSettings, gardener.pk).alerts is False  # type: ignore[union-attr]
    done = post_form(client, "/me/suggestions", {"radius_km": "1", "alerts": "on"})
    assert done.status_code == 303 and done.headers["location"] == "/me/suggestions?saved=1"
    assert "Tonte de pelouse" not in client.get("/me/suggestions").text  # 2 km is beyond 1 km
    with Session(engine) as session:
        row = session.get(MatchSettings, gardener.pk)
        assert row is not None and row.alerts and row.radius_km == 1


def test_a_match_notification_shows_its_reasons(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    provider(engine, "gardener", categories=("gardening",), insee="93006")
    alice = provider(engine, "alice", status="none")
    proposal_of(engine, settings, alice, "Tonte de pelouse", category="gardening")
    with db.session_scope(engine, write=True) as session:
        assert alerts.match_new_demands(settings, utcnow(), session=session) == 1
    login(client, "gardener")
    page = client.get("/notifications", headers={"Accept-Language": "fr"}).text
    assert "Une nouvelle demande à laquelle vous pourriez répondre" in page
    assert "« Tonte de pelouse »" in page and "même service · 2,2 km · pas encore évalué" in page
