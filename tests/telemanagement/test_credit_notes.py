"""Credit notes: a correction of an issued invoice is a credit note numbered in the invoices' gapless
sequence, referencing the invoice, as a Factur-X PDF of type 381; the invoice stays as it was; never
more than the invoice is credited; bad input changes nothing."""

from __future__ import annotations

import io

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.core import db
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import credit_notes, facturx, invoices, validation
from node.telemanagement.billing_models import CreditNote, Invoice
from tests.support.billing import issuer_settings, resolved_month
from tests.support.pages import form_token, login


@pytest.fixture
def billing_settings(settings: Settings) -> Settings:
    return issuer_settings(settings)


def test_credit_notes_correct_an_invoice_without_editing_it(
    engine: Engine, billing_settings: Settings
) -> None:
    settings = billing_settings
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        made = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        to_funder = made[0].id or 0
        before = (made[0].total_cents, made[0].pdf_sha256, made[0].content_sealed)
    year = made[0].number[:4]
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        credit_notes.issue(s, settings, setup.provider, to_funder, "Erreur", "")
    for reason, amount, field in (("", "", "reason"), ("Erreur", "abc", "amount"), ("Erreur", "0", "amount"),
                                  ("Erreur", "99.56", "amount"), ("Erreur", "1.234", "amount")):  # fmt: skip
        with pytest.raises(ValidationFailed) as refused, db.session_scope(engine) as s:
            credit_notes.issue(s, settings, setup.coordinator, to_funder, reason, amount)
        assert field in refused.value.fields
    with db.session_scope(engine) as s:
        assert s.exec(select(CreditNote)).first() is None
        partial = credit_notes.issue(
            s, settings, setup.coordinator, to_funder, "Visite du 5 comptée 2 fois (Łukasz Wąsik)", "24,58"
        )
        rest = credit_notes.issue(s, settings, setup.coordinator, to_funder, "Annulation", "")
        numbers = [(partial.number, partial.total_cents), (rest.number, rest.total_cents)]
        pdf = credit_notes.pdf_of(settings, partial)
    assert numbers == [(f"{year}-000003", 2458), (f"{year}-000004", 9955 - 2458)]
    with pytest.raises(Conflict), db.session_scope(engine) as s:
        credit_notes.issue(s, settings, setup.coordinator, to_funder, "Encore", "")
    with db.session_scope(engine) as s:
        again = s.get(Invoice, to_funder)
        assert again is not None and (again.total_cents, again.pdf_sha256, again.content_sealed) == before
        assert "Martin" not in s.exec(select(CreditNote).order_by(col(CreditNote.id))).first().content_sealed  # type: ignore[union-attr]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Avoir n° {year}-000003" in text and f"Rectifie la facture n° {year}-000001" in text
    assert "Motif : Visite du 5 comptée 2 fois (Łukasz Wąsik)" in text  # beyond Latin-1, as typed
    xml = facturx.xml_of(pdf)
    facturx.check(xml)
    tree = etree.fromstring(xml)
    ram = {"ram": facturx.RAM}
    assert tree.findtext(".//ram:TypeCode", namespaces=ram) == "381"
    assert (
        tree.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=ram)
        == f"{year}-000001"
    )
    assert tree.findtext(".//ram:DuePayableAmount", namespaces=ram) == "24.58"


def test_a_credit_note_through_the_pages(client: TestClient, engine: Engine, settings: Settings) -> None:
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        invoice_id = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)[0].id
    login(client, "coord")
    page_url = f"/telemanagement/billing?funder={setup.funder_id}&month={month.month}"
    action = f"/telemanagement/invoices/{invoice_id}/credit"
    page = client.get(page_url)
    assert "data-confirm=" in page.text
    token = form_token(page.text, action)
    base = {"csrf_token": token, "funder": str(setup.funder_id), "month": month.month}
    assert client.get(action).status_code == 303
    assert client.post(action, data={**base, "reason": "", "amount": ""}).status_code == 422
    assert client.post(action, data={**base, "reason": "Erreur", "amount": "100000"}).status_code == 422
    done = client.post(action, data={**base, "reason": "Erreur de durée", "amount": "10"})
    assert done.status_code == 303 and "done=credited" in done.headers["location"]
    with db.session_scope(engine) as s:
        row = s.exec(select(CreditNote)).one()
    page = client.get(page_url)
    assert f"/telemanagement/credit-notes/{row.id}.pdf" in page.text and "Erreur de durée" in page.text
    pdf = client.get(f"/telemanagement/credit-notes/{row.id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    client.cookies.clear()
    login(client, "aline")
    assert client.get(f"/telemanagement/credit-notes/{row.id}.pdf").status_code == 403
    assert client.post(action, data={**base, "reason": "x"}).status_code in (403, 400)


def test_a_credit_note_through_the_api(client: TestClient, engine: Engine, settings: Settings) -> None:
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        invoice = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)[1]
        coord = {
            "Authorization": f"Bearer {credentials.create_api_token(setup.coordinator, 't', session=s)[1]}"
        }
        aline = {"Authorization": f"Bearer {credentials.create_api_token(setup.provider, 't', session=s)[1]}"}
    url = f"/api/v1/invoices/{invoice.id}/credit-notes"
    assert client.post(url, headers=aline, json={"reason": "x"}).status_code == 403
    assert client.post(url, headers=coord, json={"reason": ""}).status_code == 422
    assert client.post(url, headers=coord, json={"reason": "x", "amount": "-1"}).status_code == 422
    assert (
        client.post("/api/v1/invoices/999999/credit-notes", headers=coord, json={"reason": "x"}).status_code
        == 404
    )
    made = client.post(url, headers=coord, json={"reason": "Erreur"})
    assert made.status_code == 201
    assert made.json()["total_cents"] == invoice.total_cents and made.json()["invoice_id"] == invoice.id
    assert client.post(url, headers=coord, json={"reason": "Encore"}).status_code == 409
    with db.session_scope(engine) as s:
        assert len(s.exec(select(CreditNote)).all()) == 1
