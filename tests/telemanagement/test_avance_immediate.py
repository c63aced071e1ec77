"""The URSSAF avance immédiate payment request of an issued invoice: valid against the schema kept in
the repository, with the invoice's own amounts to the cent; refused, with a clear message and nothing
made, when the node is not registered, for the funder's invoice, a credited invoice or bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import jsonschema
import pytest
from sqlalchemy import Engine

from node.core import db
from node.core.errors import Conflict, NotFound, ValidationFailed
from node.settings import Settings
from node.telemanagement import avance_immediate, credit_notes, invoices
from node.telemanagement.billing_models import Invoice
from tests.support.billing import issued_month, issuer_settings
from tests.support.telemanagement import Setup

CLIENT = {"client_id": "11000000000104", "birth_date": "1941-03-02", "nature": "20"}


def _issued(engine: Engine, settings: Settings) -> tuple[Invoice, Invoice, Setup]:
    month, made = issued_month(engine, settings)
    return made["funder"], made["beneficiary"], month.setup


def _cents(value: float) -> int:
    return int(Decimal(str(value)) * 100)


def test_the_payment_request_of_an_issued_invoice(engine: Engine, settings: Settings) -> None:
    settings = replace(issuer_settings(settings), telemanagement_urssaf_tiers_id="1081230")
    _, mine, _ = _issued(engine, settings)
    with db.session_scope(engine) as s:
        text = avance_immediate.payment_request_json(s, settings, mine.id or 0, **CLIENT)
    document = json.loads(text)
    jsonschema.validate(document, avance_immediate.schema())
    (request,) = document
    assert request["numFactureTiers"] == mine.number
    assert request["idTiersFacturation"] == "1081230"
    assert request["idClient"] == "11000000000104"
    assert request["dateNaissanceClient"] == "1941-03-02T00:00:00Z"
    assert request["dateFacture"] == f"{mine.issued_on.isoformat()}T00:00:00Z"
    month = mine.month
    assert (request["dateDebutEmploi"], request["dateFinEmploi"]) == (
        f"{month}-03T00:00:00Z",
        f"{month}-05T00:00:00Z",
    )
    # The beneficiary's 10 % of 110.61: 11.06, the funder's share deducted on the invoice.
    assert _cents(request["mntFactureTTC"]) == mine.total_cents == 1106
    assert request["mntFactureHT"] == request["mntFactureTTC"]
    lines = request["inputPrestations"]
    assert sum(_cents(line["mntPrestationTTC"]) for line in lines) == mine.total_cents
    assert [(line["codeNature"], line["unite"], line["mntPrestationTVA"]) for line in lines] == [
        ("20", "FORFAIT", 0.0)
    ]
    assert lines[0]["complement1"].startswith("4 h 30 : Entretien de la maison")


def test_a_whole_invoice_is_requested_by_the_hour(engine: Engine, settings: Settings) -> None:
    settings = replace(issuer_settings(settings), telemanagement_urssaf_tiers_id="1081230")
    to_funder, mine, _ = _issued(engine, settings)
    with db.session_scope(engine) as s:
        row = s.get(Invoice, mine.id)
        assert row is not None
        content = invoices.content_of(settings, row)
    whole = {**content, "total_cents": content["amount_cents"]}
    (line,) = avance_immediate._lines(whole, "20")
    # 4 h 30 at 24.58 €/h is 110.61 exactly: by the hour.
    assert (line["unite"], line["quantite"], line["mntUnitaireTTC"], line["mntPrestationTTC"]) == (
        "HEURE",
        4.5,
        24.58,
        110.61,
    )


def test_refusals(engine: Engine, settings: Settings) -> None:
    registered = replace(issuer_settings(settings), telemanagement_urssaf_tiers_id="1081230")
    to_funder, mine, setup = _issued(engine, registered)

    def request(use: Settings, invoice_id: int, **changes: str) -> object:
        with db.session_scope(engine) as s:
            return avance_immediate.payment_request(s, use, invoice_id, **(CLIENT | changes))

    with pytest.raises(Conflict, match="not registered"):
        request(issuer_settings(settings), mine.id or 0)
    with pytest.raises(NotFound, match="No such invoice"):
        request(registered, 999_999)
    with pytest.raises(Conflict, match="not the funder's"):
        request(registered, to_funder.id or 0)
    with pytest.raises(ValidationFailed) as bad:
        request(registered, mine.id or 0, client_id="no spaces", birth_date="02/03/1941", nature="")
    assert set(bad.value.fields) == {"id_client", "birth_date", "code_nature"}
    assert request(registered, mine.id or 0)
    with db.session_scope(engine) as s:
        credit_notes.issue(s, registered, setup.coordinator, mine.id or 0, "Visit billed twice", "1.00")
    with pytest.raises(Conflict, match="credit note"):
        request(registered, mine.id or 0)
