"""Billing through the API: the statement, resolutions with adjustment codes, the month's validation
and its invoices; a beneficiary lists their own invoices only; bad input refused."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.settings import Settings
from tests.support.accounts import bearer
from tests.support.billing import past_month
from tests.support.telemanagement import beneficiary_account


def test_billing_through_the_api(client: TestClient, engine: Engine, settings: Settings) -> None:
    month = past_month(engine, settings)
    setup = month.setup
    coord, aline = bearer(engine, "coord"), bearer(engine, "aline")
    statement = client.get(
        f"/api/v1/statements?funder_id={setup.funder_id}&month={month.month}", headers=coord
    )
    assert statement.status_code == 200
    assert statement.json()[0]["done_minutes"] == 180  # the two visits checked out, as clocked
    assert statement.json()[0]["adjusted_minutes"] == 180
    assert client.get(f"/api/v1/statements?funder_id={setup.funder_id}", headers=aline).status_code == 403
    assert client.get("/api/v1/statements?funder_id=999", headers=coord).status_code == 404
    assert client.get("/api/v1/statements", headers=coord).status_code == 422

    def resolve(visit_id: int, **body: str) -> int:
        return client.post(f"/api/v1/visits/{visit_id}/resolution", headers=coord, json=body).status_code

    assert resolve(month.late, code="XYZ") == 422
    assert resolve(month.late, code="COD") == 422
    assert resolve(month.on_time, code="MDT") == 422
    assert resolve(month.late, code="MDT") == 201
    assert resolve(month.late, code="MDT") == 409
    body = {"funder_id": setup.funder_id, "month": month.month}
    assert client.post("/api/v1/month-validations", headers=coord, json=body).status_code == 409
    assert client.post("/api/v1/invoices", headers=coord, json=body).status_code == 409
    assert resolve(month.unclocked, code="SUP") == 201
    assert resolve(month.no_check_out, code="COD", retained_end=f"{month.month}-06T09:00") == 201
    assert client.post("/api/v1/month-validations", headers=aline, json=body).status_code == 403
    made = client.post("/api/v1/month-validations", headers=coord, json=body)
    assert made.status_code == 201 and made.json()["month"] == month.month
    issued = client.post("/api/v1/invoices", headers=coord, json=body)
    assert issued.status_code == 201
    assert [(row["recipient"], row["total_cents"]) for row in issued.json()] == [
        # 2 h + 1 h + 1 h at 24.58 €/h = 98.32 €; the beneficiary's 10 % is 9.83 €.
        ("funder", 9832 - 983),
        ("beneficiary", 983),
    ]
    assert client.post("/api/v1/invoices", headers=coord, json=body).json() == []
    assert len(client.get("/api/v1/invoices", headers=coord).json()) == 2
    assert client.get("/api/v1/invoices", headers=aline).json() == []
    beneficiary_account(engine, setup)
    own = client.get("/api/v1/invoices", headers=bearer(engine, "martin")).json()
    assert [row["recipient"] for row in own] == ["beneficiary"]
    assert own[0]["pdf_url"].endswith(".pdf") and len(own[0]["pdf_sha256"]) == 64


def test_the_statement_counts_adjusted_hours(client: TestClient, engine: Engine, settings: Settings) -> None:
    """Once resolved, the statement's amount is on the retained periods, as the invoices are."""
    month = past_month(engine, settings)
    setup = month.setup
    coord = bearer(engine, "coord")
    for visit_id, body in (
        (month.unclocked, {"code": "CO2", "retained_start": f"{month.month}-05T14:00",
                           "retained_end": f"{month.month}-05T15:30"}),
        (month.no_check_out, {"code": "SUP"}),
    ):  # fmt: skip
        assert (
            client.post(f"/api/v1/visits/{visit_id}/resolution", headers=coord, json=body).status_code == 201
        )
    [line] = client.get(
        f"/api/v1/statements?funder_id={setup.funder_id}&month={month.month}", headers=coord
    ).json()
    assert (line["done_minutes"], line["adjusted_minutes"]) == (180, 270)
    assert line["amount_cents"] == 11061  # 4 h 30 at 24.58 €/h
