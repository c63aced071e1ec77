"""The living style page: every component macro rendered, for administrators only."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts.models import Role
from tests.support.accounts import make_user
from tests.support.pages import login


def test_the_style_page_shows_every_component_to_administrators(client: TestClient, engine: Engine) -> None:
    assert client.get("/style", follow_redirects=False).status_code == 303  # to the login page
    make_user(engine, "mia")
    make_user(engine, "ada", role=Role.ADMIN)
    login(client, "mia")
    assert client.get("/style").status_code == 403
    client.cookies.clear()
    login(client, "ada")
    page = client.get("/style")
    assert page.status_code == 200
    text = page.text
    assert '<span class="avatar small initial" aria-hidden="true">A</span>' in text  # avatar
    for state in ("open", "active", "accepted", "withdrawn", "disputed"):  # badge by state
        assert f'class="badge state-{state}"' in text
    assert "4,5 sur 5" in text and "12 évaluations" in text  # rating
    assert '<button type="button" class="danger">Retirer</button>' in text  # buttons
    assert 'data-confirm="Retirer cette' in text and 'id="confirm-dialog"' in text  # confirm dialog
    assert '<p class="empty">Rien ne vous attend pour l’instant.' in text  # empty state
    assert '<details class="sheet"><summary>' in text  # bottom sheet
    assert '<li class="proposal-card">' in text and "Repassage en soirée" in text  # card
    assert "18,50\u00a0€/h" in text and "Amina" in text
