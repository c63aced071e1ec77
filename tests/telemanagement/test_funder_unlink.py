"""A coordinator unlinks a funder's representative from the funders list, after confirming; the account
then no longer reads the funder's pages; anyone else, or an account not linked, changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.core import db
from node.settings import Settings
from node.telemanagement import funder_view
from node.telemanagement.tables import FunderRepresentative
from tests.support.accounts import make_user
from tests.support.pages import csrf, form_token, login
from tests.support.telemanagement import care_setup


def _linked(engine: Engine) -> int:
    with db.session_scope(engine) as s:
        return len(s.exec(select(FunderRepresentative)).all())


def test_a_coordinator_unlinks_a_representative_after_confirming(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=10))
    rep = make_user(engine, "cd93")
    with db.session_scope(engine) as s:
        funder_view.link(s, setup.coordinator, setup.funder_id, "cd93")
    action = f"/telemanagement/funders/{setup.funder_id}/representatives/{rep.id}/unlink"
    login(client, "cd93")
    assert client.get(f"/funder/{setup.funder_id}").status_code == 200
    assert client.post(action, data={"csrf_token": csrf(client, "/me/absence")}).status_code == 403
    client.cookies.clear()
    login(client, "coord")
    page = client.get("/telemanagement")
    assert 'data-confirm="' in page.text.split(action)[1].split(">")[0]
    token = form_token(page.text, action)
    assert client.get(action).status_code == 303
    asked = client.post(action, data={"csrf_token": token})
    assert asked.status_code == 200 and 'name="confirmed" value="1"' in asked.text
    assert _linked(engine) == 1  # not without confirming
    done = client.post(action, data={"csrf_token": token, "confirmed": "1"})
    assert done.status_code == 303 and "done=unlinked" in done.headers["location"]
    assert _linked(engine) == 0
    assert action not in client.get("/telemanagement").text
    assert client.post(action, data={"csrf_token": token, "confirmed": "1"}).status_code == 404
    client.cookies.clear()
    login(client, "cd93")
    assert client.get(f"/funder/{setup.funder_id}").status_code == 403
