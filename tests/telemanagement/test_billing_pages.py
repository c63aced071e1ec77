"""Billing through the pages: the coordinator resolves the month's anomalies, validates the month (then
locked), issues the invoices and downloads them, the ESPPADOM export and a tax certificate; the
beneficiary sees and downloads their own invoice only; forms answer GET with 303; bad input 4xx."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.http.pages.telemanagement import billing
from node.settings import Settings
from node.telemanagement import adjustments
from tests.support.billing import past_month
from tests.support.pages import form_token, login
from tests.support.telemanagement import beneficiary_account


def test_resolve_validate_issue_and_download(client: TestClient, engine: Engine, settings: Settings) -> None:
    month = past_month(engine, settings)
    setup = month.setup
    login(client, "coord")
    page_url = f"/telemanagement/billing?funder={setup.funder_id}&month={month.month}"
    page = client.get(page_url)
    assert page.status_code == 200
    assert len(re.findall(r'<li data-visit="', page.text)) == 3
    validate_url = "/telemanagement/billing/validate"
    token = form_token(page.text, validate_url)
    refused = client.post(
        validate_url, data={"csrf_token": token, "funder": setup.funder_id, "month": month.month}
    )
    assert refused.status_code == 409 and "encore une anomalie" in refused.text

    def resolve(visit_id: int, **data: str) -> int:
        url = f"/telemanagement/billing/visits/{visit_id}/resolve"
        sent = {"csrf_token": token, "funder": str(setup.funder_id), "month": month.month, **data}
        return client.post(url, data=sent).status_code

    assert resolve(month.late, code="COD") == 422
    assert resolve(month.unclocked, code="CO2", retained_start="nope") == 422
    assert resolve(month.late, code="MDT") == 303
    assert resolve(month.unclocked, code="CO2", retained_start=f"{month.month}-05T14:00",
                   retained_end=f"{month.month}-05T15:00") == 303  # fmt: skip
    assert resolve(month.no_check_out, code="SUP") == 303
    assert client.get(f"/telemanagement/billing/visits/{month.late}/resolve").status_code == 303
    done = client.post(
        validate_url, data={"csrf_token": token, "funder": setup.funder_id, "month": month.month}
    )
    assert done.status_code == 303 and "done=validated" in done.headers["location"]
    page = client.get(page_url)
    assert 'data-testid="validated"' in page.text
    issued = client.post(
        "/telemanagement/billing/issue",
        data={"csrf_token": token, "funder": setup.funder_id, "month": month.month},
    )
    assert issued.status_code == 303
    page = client.get(page_url)
    links = re.findall(r'href="(/telemanagement/invoices/\d+\.pdf)"', page.text)
    assert len(links) == 2
    pdf = client.get(links[0])
    assert (
        pdf.status_code == 200
        and pdf.content.startswith(b"%PDF")
        and pdf.headers["content-type"] == "application/pdf"
    )
    xml = client.get(f"/telemanagement/funders/{setup.funder_id}/esppadom.xml?month={month.month}")
    assert xml.status_code == 200 and b"ESPPADOM_EFFECTIVITY_AJUST" in xml.content
    csv = client.get(f"/telemanagement/funders/{setup.funder_id}/esppadom.csv?month={month.month}")
    assert csv.status_code == 200 and "adjustment_code" in csv.text
    year = month.month[:4]
    certificate = client.get(f"/telemanagement/beneficiaries/{setup.beneficiary_id}/certificate-{year}.pdf")
    assert certificate.status_code == 200 and certificate.content.startswith(b"%PDF")
    assert (
        client.get(f"/telemanagement/beneficiaries/{setup.beneficiary_id}/certificate-1999.pdf").status_code
        == 422
    )

    # The beneficiary, once their account is linked, sees their own invoice and not the funder's.
    beneficiary_account(engine, setup)
    client.cookies.clear()
    login(client, "martin")
    mine = client.get("/me/invoices")
    own = re.findall(r'href="(/telemanagement/invoices/\d+\.pdf)"', mine.text)
    assert own == [links[1]] or own == [links[0]]
    funder_invoice = next(link for link in links if link not in own)
    assert client.get(own[0]).status_code == 200
    assert client.get(funder_invoice).status_code == 403
    assert client.get(page_url).status_code == 403
    assert (
        client.get(f"/telemanagement/beneficiaries/{setup.beneficiary_id}/certificate-{year}.pdf").status_code
        == 200
    )
    client.cookies.clear()
    login(client, "aline")
    assert client.get(own[0]).status_code == 403
    assert client.get("/telemanagement/invoices/999.pdf").status_code == 404


def test_every_adjustment_code_has_its_words() -> None:
    assert set(billing.ADJUSTMENT_LABELS) == {code.code for code in adjustments.CODES}
