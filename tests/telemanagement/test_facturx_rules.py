"""Every kind of Factur-X document the node issues passes its profile's official Schematron (EN 16931's
business rules as Factur-X BASIC restricts them), run by SaxonC-HE in a child process, and the
structural PDF/A-3 checks of :mod:`node.telemanagement.pdfa`; broken documents name the rules they
break."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, StreamObject, TextStringObject
from sqlalchemy import Engine

from node.cli import main
from node.core import db
from node.settings import Settings
from node.telemanagement import credit_notes, facturx, fonts, invoices, pdfa, schematron, validation
from node.telemanagement.models import Funder
from tests.support.billing import font_names, issued_month, issuer_settings, resolved_month


def _issued(engine: Engine, settings: Settings, *, billing: str = "direct") -> list[bytes]:
    """The PDFs of a month's invoices (funder ``billing``) and of a partial and a full credit note on
    the first: lines with adjustment codes (MDT, CO2; SUP not billed), a document-level allowance."""
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        funder = s.get(Funder, setup.funder_id)
        assert funder is not None
        funder.billing = billing
        s.add(funder)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        made = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        first = made[0].id or 0
        partial = credit_notes.issue(
            s, settings, setup.coordinator, first, "Visite comptée deux fois", "24,58"
        )
        rest = credit_notes.issue(s, settings, setup.coordinator, first, "Annulation", "")
        pdfs = [invoices.pdf_of(settings, row) for row in made]
        return pdfs + [credit_notes.pdf_of(settings, row) for row in (partial, rest)]


def _kinds(pdfs: list[bytes]) -> list[tuple[str, str, str]]:
    found = []
    for pdf in pdfs:
        tree = etree.fromstring(facturx.xml_of(pdf))
        type_code = tree.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=facturx.NAMESPACES)
        buyer = tree.findtext(".//ram:BuyerTradeParty/ram:Name", namespaces=facturx.NAMESPACES)
        allowance = tree.find(".//ram:SpecifiedTradeAllowanceCharge", facturx.NAMESPACES) is not None
        found.append((str(type_code), str(buyer), "allowance" if allowance else ""))
    return found


# The kinds issued (type code, buyer, a deducted share) by how the funder is billed.
KINDS = {
    "direct": [
        ("380", "CD 93", "allowance"),  # to the funder (a business): its share
        ("380", "Mme Martin", "allowance"),  # to the beneficiary (an individual): hers
        ("381", "CD 93", ""),  # a partial credit note on the first, then the rest
        ("381", "CD 93", ""),
    ],
    "beneficiary": [
        ("380", "Mme Martin", ""),  # the whole, to the beneficiary
        ("381", "Mme Martin", ""),
        ("381", "Mme Martin", ""),
    ],
}


@pytest.mark.parametrize("billing", sorted(KINDS))
def test_every_document_passes_the_schematron_and_the_pdfa_checks(
    engine: Engine, settings: Settings, billing: str
) -> None:
    pdfs = _issued(engine, issuer_settings(settings), billing=billing)
    assert _kinds(pdfs) == KINDS[billing]
    documents = [facturx.xml_of(pdf) for pdf in pdfs]
    text = documents[0].decode()
    assert '<ram:ID schemeID="FC">12345678900017</ram:ID>' in text  # BT-32, which category E asks for
    assert "TVA non applicable" in text and "<ram:ShipToTradeParty>" in text
    assert schematron.check_many(documents) == [[] for _ in documents]
    # The full EN 16931 profile's rules pass too, but for the profile identifier, which says BASIC.
    for failures in schematron.check_many(documents, "en16931"):
        assert [(f.id, f.location) for f in failures] == [
            (
                "FX-SCH-A-000556",
                "/CrossIndustryInvoice[1]/ExchangedDocumentContext[1]/GuidelineSpecifiedDocumentContextParameter[1]/ID[1]",
            )
        ]
    for pdf in pdfs:
        assert pdfa.problems(pdf) == []


def test_a_text_beyond_the_reduced_font_is_drawn_with_the_full_one(
    engine: Engine, settings: Settings
) -> None:
    """French text only: the reduced font (ASASAP Sans); a reason in Arabic script: DejaVu Sans, which
    prints it; both documents pass the Schematron and the PDF/A checks."""
    settings = issuer_settings(settings)
    month, issued = issued_month(engine, settings)
    invoice = issued["funder"]
    reason = "Visite de مريم حداد annulée"
    assert not fonts.covers([reason]) and fonts.covers(["Visite annulée : « œuvre » à 12\u202f€ – ½ — Ωμέγα"])
    with db.session_scope(engine) as s:
        note = credit_notes.issue(s, settings, month.setup.coordinator, invoice.id or 0, reason, "")
        pdfs = [invoices.pdf_of(settings, invoice), credit_notes.pdf_of(settings, note)]
    assert font_names(pdfs[0]) == {"ASASAPSansBook", "ASASAPSansBold"}
    assert font_names(pdfs[1]) == {"DejaVuSansBook", "DejaVuSansBold"}
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdfs[1])).pages)
    assert "Motif : Visite de" in text and "annulée" in text
    assert set("مريمحداد") <= set(text)  # drawn right to left: extracted in visual order
    assert schematron.check_many([facturx.xml_of(pdf) for pdf in pdfs]) == [[], []]
    for pdf in pdfs:
        assert pdfa.problems(pdf) == []


def _broken(xml: bytes, old: bytes, new: bytes) -> bytes:
    assert old in xml, old
    return xml.replace(old, new, 1)


def test_broken_documents_name_the_rules_they_break(engine: Engine, settings: Settings) -> None:
    pdfs = _issued(engine, issuer_settings(settings))
    xml = facturx.xml_of(pdfs[0])  # to the funder: 110.61 of visits less 11.06, 99.55 due
    no_seller = _broken(xml, b"<ram:Name>Coop Aide 93</ram:Name>", b"")
    bad_total = _broken(xml, b"<ram:GrandTotalAmount>99.55<", b"<ram:GrandTotalAmount>99.56<")
    bad_lines = _broken(xml, b"<ram:LineTotalAmount>49.16<", b"<ram:LineTotalAmount>49.17<")
    no_tax_id = _broken(xml, b'<ram:ID schemeID="FC">12345678900017</ram:ID>', b"")
    no_reason = _broken(xml, b"<ram:ExemptionReason>TVA non applicable</ram:ExemptionReason>", b"")
    found = schematron.check_many([no_seller, bad_total, bad_lines, no_tax_id, no_reason, xml])
    rules = [sorted({f.rule for f in failures if f.flag != "warning"}) for failures in found]
    assert "BR-06" in rules[0]  # the seller's name
    assert "BR-CO-15" in rules[1]  # grand total = tax basis + VAT
    assert "BR-CO-10" in rules[2]  # the sum of the lines
    assert {"BR-E-02", "BR-E-03"} <= set(rules[3])  # exempt without a seller tax identifier
    assert "BR-E-10" in rules[4]  # exempt without a reason
    assert rules[5] == []
    where = {f.rule: f.location for f in found[2]}
    assert where["BR-CO-10"].endswith("SpecifiedTradeSettlementHeaderMonetarySummation[1]")
    credit_note = facturx.xml_of(pdfs[2])
    corrected = etree.fromstring(credit_note).findtext(
        ".//ram:IssuerAssignedID", namespaces=facturx.NAMESPACES
    )
    no_reference = _broken(
        credit_note, f"<ram:IssuerAssignedID>{corrected}</ram:IssuerAssignedID>".encode(), b""
    )
    bad_type = _broken(credit_note, b"<ram:TypeCode>381</ram:TypeCode>", b"<ram:TypeCode>999</ram:TypeCode>")
    reference, type_code = schematron.check_many([no_reference, bad_type])
    assert "BR-55" in {f.rule for f in reference}  # the corrected invoice's number
    assert [(f.id, f.location) for f in type_code] == [
        ("FX-SCH-A-000023", "/CrossIndustryInvoice[1]/ExchangedDocument[1]/TypeCode[1]")
    ]  # a Factur-X code list check (UNTDID 1001, as BASIC restricts it): no BR id in its text


def test_an_issuer_without_siret_breaks_br_e_02(engine: Engine, settings: Settings) -> None:
    """Without ASASAP_TELEMANAGEMENT_ISSUER_SIRET the invoice has no seller tax identifier: the node still
    issues it (the PDF is the invoice), and the Schematron says what is missing."""
    pdfs = _issued(engine, replace(issuer_settings(settings), telemanagement_issuer_siret=""))
    rules = {f.rule for f in schematron.check(facturx.xml_of(pdfs[0]))}
    assert {"BR-E-02", "BR-E-03"} <= rules


def test_the_check_runs_from_any_thread(engine: Engine, settings: Settings) -> None:
    """SaxonC aborts a process that calls it from a thread other than its first: the check never loads
    it in this process, so worker threads (a request's, a test's) may call it."""
    xml = facturx.xml_of(_issued(engine, issuer_settings(settings))[0])
    results: list[list[schematron.Failure]] = []
    workers = [threading.Thread(target=lambda: results.append(schematron.check(xml))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [[], []]


def test_the_check_invoice_command(
    engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = _issued(engine, issuer_settings(settings))[0]
    good, bad = tmp_path / "facture.pdf", tmp_path / "broken.xml"
    good.write_bytes(pdf)
    bad.write_bytes(_broken(facturx.xml_of(pdf), b"<ram:Name>Coop Aide 93</ram:Name>", b""))
    assert main(["telemanagement", "check-invoice", str(good)]) == 0
    out = capsys.readouterr().out
    assert "valid against the XSD and the Schematron" in out and "PDF/A-3" not in out
    assert main(["telemanagement", "check-invoice", "--json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and "BR-06" in {failure["rule"] for failure in report["schematron"]}
    assert report["pdfa"] == []  # an XML file: no PDF to check


def test_the_pdfa_checks_find_what_is_missing(engine: Engine, settings: Settings) -> None:
    pdf = _issued(engine, issuer_settings(settings))[0]
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    root = writer.root_object
    del root[NameObject("/OutputIntents")]
    root[NameObject("/AF")] = ArrayObject()
    metadata = root["/Metadata"].get_object()
    assert isinstance(metadata, StreamObject)
    metadata.set_data(metadata.get_data().replace(b">BASIC<", b">EN 16931<"))
    root[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1);")}
    )
    resources = writer.pages[0]["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    fonts = resources["/Font"].get_object()
    assert isinstance(fonts, DictionaryObject)
    embedded = [font.get_object() for font in fonts.values()]
    assert embedded and all(font["/Subtype"] == "/Type0" for font in embedded)  # ASASAP Sans, subset
    fonts[NameObject("/FH")] = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )  # a standard font, named but not embedded
    broken = io.BytesIO()
    writer.write(broken)
    found = pdfa.problems(broken.getvalue())
    assert {problem.code for problem in found} == {
        "no-output-intent", "attachment", "fx-xmp", "action", "font-not-embedded",
    }  # fmt: skip
    assert [p.detail for p in found if p.code == "font-not-embedded"] == [
        "The font /Helvetica is not embedded."
    ]
    assert [p.detail for p in found if p.code == "attachment"] == [
        "factur-x.xml is not listed in the catalog's /AF."
    ]
    assert any("ConformanceLevel EN 16931" in p.detail for p in found)
    writer.encrypt("secret")
    locked = io.BytesIO()
    writer.write(locked)
    assert pdfa.problems(locked.getvalue()) == [pdfa.Problem("encrypted", "The document is encrypted.")]
