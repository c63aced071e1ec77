"""The annual tax certificate: what the beneficiary paid in the year, from the invoices to them only."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from node.core import db
from node.core.errors import NotFound, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import certificates, invoices, pdfa, validation
from tests.support.billing import issuer_settings, resolved_month


def test_the_certificate_sums_what_the_beneficiary_paid(engine: Engine, settings: Settings) -> None:
    settings = issuer_settings(settings)
    month = resolved_month(engine, settings)
    setup = month.setup
    year = int(month.month[:4])
    with pytest.raises(NotFound), db.session_scope(engine) as s:
        certificates.certificate(s, settings, setup.beneficiary_id, year)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
    with db.session_scope(engine) as s:
        content = certificates.certificate(s, settings, setup.beneficiary_id, year)
        pdf = certificates.certificate_pdf(s, settings, setup.coordinator, setup.beneficiary_id, year)
        assert certificates.years(s, setup.beneficiary_id) == [year]
        with pytest.raises(PermissionDenied):
            certificates.certificate_pdf(s, settings, setup.provider, setup.beneficiary_id, year)
        with pytest.raises(ValidationFailed):
            certificates.certificate(s, settings, setup.beneficiary_id, 1999)
    assert content["paid_cents"] == 1106  # the beneficiary's 10 %, not the funder's share
    assert [row["month"] for row in content["invoices"]] == [month.month]
    assert content["workers"] == [{"worker": f"Intervenant n° {setup.provider.id}", "minutes": 270}]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (f"Attestation fiscale {year}", "11,06 EUR", "SAP123456789", "Mme Martin", "4 h 30"):
        assert expected in text, expected
    # A plain PDF (no PDF/A claim, no XML), but its fonts are embedded like the invoices'.
    assert "font-not-embedded" not in {problem.code for problem in pdfa.problems(pdf)}
