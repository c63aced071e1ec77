"""The funder's view: an account a coordinator links to a funder reads that funder's plans, visits done,
statement and invoices, read-only; another funder's data is never visible to it; only coordinators
link; bad input changes nothing."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.core import db
from node.settings import Settings
from node.telemanagement import invoices, plans, validation
from node.telemanagement.tables import FunderRepresentative
from tests.support.accounts import make_user
from tests.support.billing import resolved_month
from tests.support.pages import csrf, login


def test_a_funder_s_representative_sees_only_their_funder(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        mine = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        other = plans.create_funder(
            s, setup.coordinator, name="Caisse Autre", kind="pension", billing="direct"
        )
        home = plans.create_beneficiary(
            s, settings, setup.coordinator, name="M. Dupont", address="3 rue Basse"
        )
        terms = plans.parse_terms(
            valid_from="2020-01-01",
            valid_until="",
            hourly_rate="20",
            participation="0",
            hours={"housework": "10"},
        )
        plans.create_plan(s, setup.coordinator, beneficiary_id=home.id or 0, funder_id=other.id or 0,
                          folder_number="CNAV-9", terms=terms)  # fmt: skip
        other_id = other.id or 0
    make_user(engine, "cd93")
    make_user(engine, "cnav")
    login(client, "coord")
    token = csrf(client, "/telemanagement", f"/telemanagement/funders/{setup.funder_id}/representatives")
    link = f"/telemanagement/funders/{setup.funder_id}/representatives"
    assert client.get(link).status_code == 303
    assert client.post(link, data={"csrf_token": token, "username": "nobody"}).status_code == 422
    assert client.post(link, data={"csrf_token": token, "username": "cd93"}).status_code == 303
    assert client.post(link, data={"csrf_token": token, "username": "cd93"}).status_code == 409
    other_link = f"/telemanagement/funders/{other_id}/representatives"
    assert client.post(other_link, data={"csrf_token": token, "username": "cnav"}).status_code == 303
    assert "cd93" in client.get("/telemanagement").text
    with db.session_scope(engine) as s:
        assert len(s.exec(select(FunderRepresentative)).all()) == 2
    client.cookies.clear()
    login(client, "aline")
    assert client.post(other_link, data={"csrf_token": token, "username": "aline"}).status_code in (400, 403)
    assert client.get(f"/funder/{setup.funder_id}").status_code == 403
    assert "M. Dupont" not in client.get("/funder").text
    client.cookies.clear()
    login(client, "cd93")
    assert client.get("/funder").headers["location"] == f"/funder/{setup.funder_id}"
    page = client.get(f"/funder/{setup.funder_id}?month={month.month}")
    assert page.status_code == 200
    assert "Mme Martin" in page.text and "APA-0042" in page.text and mine[0].number in page.text
    assert mine[1].number not in page.text  # the beneficiary's own invoice is not the funder's
    for private in ("M. Dupont", "CNAV-9", "12 rue de Paris", "4812B", "GIR 3", "Caisse Autre"):
        assert private not in page.text, private
    assert page.text.count("<li>") >= 3  # a plan and two visits done
    assert client.get(f"/telemanagement/invoices/{mine[0].id}.pdf").status_code == 200
    assert client.get(f"/telemanagement/invoices/{mine[1].id}.pdf").status_code == 403
    assert client.get(f"/funder/{other_id}").status_code == 403
    assert client.get(f"/funder/{setup.funder_id}?month=2026-13").status_code == 422
    assert client.get("/telemanagement").status_code == 403
    client.cookies.clear()
    login(client, "cnav")
    page = client.get(f"/funder/{other_id}?month={month.month}")
    assert page.status_code == 200 and "CNAV-9" in page.text and "M. Dupont" in page.text
    for private in ("Mme Martin", "APA-0042", mine[0].number, "3 rue Basse"):
        assert private not in page.text, private
    assert client.get(f"/funder/{setup.funder_id}").status_code == 403
    assert client.get(f"/telemanagement/invoices/{mine[0].id}.pdf").status_code == 403
