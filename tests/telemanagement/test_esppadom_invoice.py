"""The ESPPADOM INVOICE export of a month's invoices to a funder validates against the schema kept in
the repository, carries the invoices' own numbers and amounts and their credit notes, and its CSV has
the same lines."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import Engine

from node.core import db
from node.core.errors import Conflict, ValidationFailed
from node.settings import Settings
from node.telemanagement import credit_notes, esppadom, esppadom_invoice, invoices, validation
from node.telemanagement.models import Funder
from tests.support.billing import issued_month, issuer_settings, resolved_month

Q = {"ns": esppadom_invoice.NS, "ram": esppadom.RAM, "pie": esppadom.PIE, "qdt": esppadom.QDT}


def test_the_invoice_export_of_a_month(engine: Engine, settings: Settings) -> None:
    settings = replace(issuer_settings(settings), telemanagement_sap_agrement="SAP-AUT-93-0042")
    month = resolved_month(engine, settings)
    setup = month.setup
    with pytest.raises(Conflict, match="Validate the month"), db.session_scope(engine) as s:
        esppadom_invoice.invoice_xml(s, settings, setup.funder_id, month.month)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
    with pytest.raises(Conflict, match="issue the month's invoices first"), db.session_scope(engine) as s:
        esppadom_invoice.invoice_xml(s, settings, setup.funder_id, month.month)
    with db.session_scope(engine) as s:
        made = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        number = next(row.number for row in made if row.recipient == "funder")
        xml = esppadom_invoice.invoice_xml(s, settings, setup.funder_id, month.month)
        text = esppadom_invoice.invoice_csv(s, settings, setup.funder_id, month.month)
    tree = etree.fromstring(xml)
    esppadom_invoice.schema().assertValid(tree)
    messages = tree.findall("ns:CrossIndustryInvoice", Q)
    assert len(messages) == 1  # the beneficiary's invoice is not the funder's
    message = messages[0]
    assert message.findtext("ns:CIIHExchangedDocument/ram:ID", None, Q) == number
    seller = message.find(".//ram:SellerCITradeParty", Q)
    assert seller is not None
    assert seller.findtext("pie:SIRET", None, Q) == "12345678900017"
    assert seller.findtext("ram:AgrementID", None, Q) == "SAP-AUT-93-0042"
    # 2 h + 1 h + 1 h 30 at 24.58 €/h = 110.61; the beneficiary's 10 % (11.06) deducted.
    total = message.find(".//ram:SpecifiedCIIHTradeSettlementMonetarySummation", Q)
    assert total is not None
    assert [child.text for child in total] == ["110.61", "11.06", "99.55"]
    line = message.find("ns:CIIHSupplyChainTradeTransaction/ram:IncludedCIILSupplyChainTradeLineItem", Q)
    assert line is not None
    assert line.findtext(".//ram:OrderLineID", None, Q) == "APA-0042"
    assert line.findtext(".//ram:BilledQuantity", None, Q) == "4.50"
    assert line.findtext(".//ram:ChargeAmount", None, Q) == "24.58"
    assert line.findtext(".//ram:BeneficiaryShareAmount", None, Q) == "11.06"
    assert line.findtext(".//ram:FunderShareAmount", None, Q) == "99.55"
    assert line.findtext(".//qdt:ID", None, Q) == "APA"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == esppadom_invoice.CSV_COLUMNS
    assert [(r["invoice_number"], r["billed_hours"], r["amount"], r["invoice_total"]) for r in rows] == [
        (number, "4.50", "110.61", "99.55")
    ]


def test_the_schema_refuses_a_negative_amount_and_the_export_other_funders(
    engine: Engine, settings: Settings
) -> None:
    settings = issuer_settings(settings)
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        xml = esppadom_invoice.invoice_xml(s, settings, setup.funder_id, month.month)
    broken = etree.fromstring(xml.replace(b">99.55<", b">-99.55<", 1))
    assert not esppadom_invoice.schema().validate(broken)
    assert "-99.55" in str(esppadom_invoice.schema().error_log)
    with db.session_scope(engine) as s:
        funder = s.get(Funder, setup.funder_id)
        assert funder is not None
        funder.kind = "mutual"
        s.add(funder)
    with pytest.raises(ValidationFailed, match="ESPPADOM"), db.session_scope(engine) as s:
        esppadom_invoice.invoice_csv(s, settings, setup.funder_id, month.month)


def test_a_credit_note_follows_its_invoice_and_the_amounts_are_net_of_it(
    engine: Engine, settings: Settings
) -> None:
    settings = issuer_settings(settings)
    month, made = issued_month(engine, settings)
    setup, to_funder, to_beneficiary = month.setup, made["funder"], made["beneficiary"]
    with db.session_scope(engine) as s:
        note = credit_notes.issue(s, settings, setup.coordinator, to_funder.id or 0, "Visite comptée", "20")
        credit_notes.issue(s, settings, setup.coordinator, to_beneficiary.id or 0, "Erreur de part", "1")
        numbers = (to_funder.number, note.number)
        xml = esppadom_invoice.invoice_xml(s, settings, setup.funder_id, month.month)
        text = esppadom_invoice.invoice_csv(s, settings, setup.funder_id, month.month)
    tree = etree.fromstring(xml)
    esppadom_invoice.schema().assertValid(tree)
    messages = tree.findall("ns:CrossIndustryInvoice", Q)
    # The funder's invoice, then its credit note; the beneficiary's credit note is not the funder's.
    assert [m.findtext("ns:CIIHExchangedDocument/ram:ID", None, Q) for m in messages] == list(numbers)
    invoice, credit = messages
    assert credit.findtext("ns:CIIHExchangedDocument/ram:TypeCode", None, Q) == "381"
    assert credit.findtext("ns:CIIHExchangedDocument/ram:IncludedNote/ram:Content", None, Q) == (
        "Visite comptée"
    )
    reference = credit.find(
        ".//ram:ApplicableCIIHSupplyChainTradeSettlement/ram:InvoiceReferencedDocument", Q
    )
    assert reference is not None
    assert reference.findtext("ram:IssuerAssignedID", None, Q) == numbers[0]
    assert invoice.find(".//ram:InvoiceReferencedDocument", Q) is None
    totals = [
        [e.text for e in m.iterfind(".//ram:SpecifiedCIIHTradeSettlementMonetarySummation/*", Q)]
        for m in messages
    ]
    assert totals == [["110.61", "11.06", "99.55"], ["20.00", "0.00", "20.00"]]
    assert credit.find(".//ram:BilledQuantity", Q) is None  # an amount taken back, not hours
    assert credit.findtext(".//ram:OrderLineID", None, Q) == "APA-0042"
    assert credit.findtext(".//ram:FunderShareAmount", None, Q) == "20.00"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (r["invoice_number"], r["document_type"], r["credited_invoice"], r["invoice_total"], r["net_total"])
        for r in rows
    ] == [(numbers[0], "380", "", "99.55", "79.55"), (numbers[1], "381", numbers[0], "-20.00", "")]
    assert [
        (r["amount"], r["beneficiary_share"], r["funder_share"], r["billed_hours"]) for r in rows[1:]
    ] == [("-20.00", "0.00", "-20.00", "")]
    assert sum(Decimal(r["invoice_total"]) for r in rows) == Decimal("79.55")


def test_a_full_credit_note_gives_back_the_total_and_must_name_its_invoice(
    engine: Engine, settings: Settings
) -> None:
    settings = issuer_settings(settings)
    month, made = issued_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        number = credit_notes.issue(s, settings, setup.coordinator, made["funder"].id or 0, "Tout").number
        xml = esppadom_invoice.invoice_xml(s, settings, setup.funder_id, month.month)
    tree = etree.fromstring(xml)
    assert [e.text for e in tree.iterfind(".//ram:DuePayableAmount", Q)] == ["99.55", "99.55"]
    reference = tree.find(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", Q)
    assert reference is not None and reference.text != number
    reference.text = ""
    assert not esppadom_invoice.schema().validate(tree)
