"""The exports added to billing, through the pages and the API: the ESPPADOM INVOICE files of a funder's
month (XML valid against the kept schema, CSV), and an invoice's URSSAF avance immédiate payment
request downloaded from its form or the API (valid against the kept JSON Schema, the invoice's total;
the funder's invoice and bad input refused with 4xx; the form's URL answers GET with 303)."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest
from lxml import etree
from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.settings import Settings
from node.telemanagement import avance_immediate, esppadom_invoice
from tests.support.accounts import bearer
from tests.support.billing import issued_month, issuer_settings
from tests.support.pages import form_token, login


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(issuer_settings(settings), telemanagement_urssaf_tiers_id="1081230")


def test_exports_through_the_pages_and_the_api(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    month, made = issued_month(engine, settings)
    setup = month.setup
    ids = {recipient: row.id or 0 for recipient, row in made.items()}
    totals = {recipient: row.total_cents for recipient, row in made.items()}
    login(client, "coord")
    page = client.get(f"/telemanagement/billing?funder={setup.funder_id}&month={month.month}")
    assert page.status_code == 200
    base = f"/telemanagement/funders/{setup.funder_id}/esppadom-invoice"
    assert f'href="{base}.xml?month={month.month}"' in page.text
    xml = client.get(f"{base}.xml?month={month.month}")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    esppadom_invoice.schema().assertValid(etree.fromstring(xml.content))
    csv = client.get(f"{base}.csv?month={month.month}")
    assert csv.status_code == 200 and csv.text.startswith(",".join(esppadom_invoice.CSV_COLUMNS))
    assert client.get(f"{base}.xml?month=2001-01").status_code == 409  # not validated
    order = client.get(f"/telemanagement/funders/{setup.funder_id}/esppadom-order.xml?month={month.month}")
    assert order.status_code == 200 and b"APA-0042" in order.content
    assert (
        f'href="/telemanagement/funders/{setup.funder_id}/esppadom-order.csv?month={month.month}"'
        in page.text
    )

    url = f"/telemanagement/invoices/{ids['beneficiary']}/urssaf.json"
    assert f'data-testid="urssaf-{ids["beneficiary"]}"' in page.text
    assert f'data-testid="urssaf-{ids["funder"]}"' not in page.text
    token = form_token(page.text, url)
    sent = {"csrf_token": token, "funder": str(setup.funder_id), "month": month.month,
            "id_client": "11000000000104", "birth_date": "1941-03-02", "code_nature": "20"}  # fmt: skip
    got = client.post(url, data=sent)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
    assert "attachment" in got.headers["content-disposition"]
    document = json.loads(got.content)
    jsonschema.validate(document, avance_immediate.schema())
    assert round(document[0]["mntFactureTTC"] * 100) == totals["beneficiary"]
    bad = client.post(url, data=sent | {"birth_date": "yesterday"})
    assert bad.status_code == 422 and "La date de naissance du client, au format AAAA-MM-JJ." in bad.text
    funder_url = f"/telemanagement/invoices/{ids['funder']}/urssaf.json"
    refused = client.post(funder_url, data=sent)
    assert refused.status_code == 409 and "pas celle du financeur" in refused.text
    assert client.get(url).status_code == 303

    coord, aline = bearer(engine, "coord"), bearer(engine, "aline")
    body = {"id_client": "11000000000104", "birth_date": "1941-03-02", "code_nature": "20"}
    api = f"/api/v1/invoices/{ids['beneficiary']}/urssaf-payment-request"
    answer = client.post(api, headers=coord, json=body)
    assert answer.status_code == 200 and answer.json() == document
    assert client.post(api, headers=aline, json=body).status_code == 403
    assert client.post(api, headers=coord, json=body | {"extra": "x"}).status_code == 422
    funder_api = f"/api/v1/invoices/{ids['funder']}/urssaf-payment-request"
    assert client.post(funder_api, headers=coord, json=body).status_code == 409
    missing = "/api/v1/invoices/999999/urssaf-payment-request"
    assert client.post(missing, headers=coord, json=body).status_code == 404
