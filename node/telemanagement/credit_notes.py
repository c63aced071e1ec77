"""Credit notes (avoirs): an issued invoice is never edited; a correction is a credit note for all of
it or a part, with a reason, numbered in the same gapless sequence as the invoices (the counter of
:func:`node.telemanagement.invoices._number`, locked in the same transaction), referencing the invoice,
its content and PDF (Factur-X, type code 381, the invoice in ``InvoiceReferencedDocument``) sealed at
rest. The credit notes of an invoice never exceed its total.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.db import one
from node.core.errors import N_, Conflict, ValidationFailed
from node.core.sealing import seal, unseal
from node.settings import Settings
from node.telemanagement import documents, facturx, invoices, plans
from node.telemanagement.billing_models import CreditNote, Invoice
from node.telemanagement.visits import PARIS

MSG_REASON = N_("Give the reason of the correction.")
MSG_AMOUNT = N_("Enter an amount in euros above 0 and at most what is left to credit on the invoice.")
MSG_CREDITED = N_("This invoice is already fully credited.")


def credited_cents(session: Session, invoice_id: int) -> int:
    return sum(session.exec(select(CreditNote.total_cents).where(CreditNote.invoice_id == invoice_id)))


def _amount(text: str, left: int) -> int:
    if not text.strip():
        return left
    try:
        value = Decimal(text.strip().replace(",", ".").replace("€", "").strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value.as_tuple().exponent < -2 or not 0 < value * 100 <= left:  # type: ignore[operator]
        raise ValidationFailed(N_("Check the highlighted fields."), fields={"amount": MSG_AMOUNT})
    return int(value * 100)


def issue(
    session: Session, settings: Settings, user: User, invoice_id: int, reason: str, amount: str = ""
) -> CreditNote:
    """A credit note on an invoice: ``amount`` in euros, empty for all that is left to credit."""
    plans.require_coordinator(user)
    invoice = one(session, Invoice, invoice_id, N_("No such invoice."), lock=True)
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed(N_("Check the highlighted fields."), fields={"reason": MSG_REASON})
    left = invoice.total_cents - credited_cents(session, invoice_id)
    if left <= 0:
        raise Conflict(MSG_CREDITED)
    cents = _amount(amount, left)
    original = invoices.content_of(settings, invoice)
    today = datetime.now(PARIS).date()
    sequence = invoices._number(session, today.year)
    label = f"Avoir sur la facture {original['number']}"
    content: dict[str, Any] = {
        **{key: original[key] for key in ("month", "period", "recipient", "issuer", "client", "beneficiary")},
        **{
            key: original[key] for key in ("funder", "folder_number", "hourly_rate_cents", "participation_bp")
        },
        "type_code": "381",
        "number": f"{today.year}-{sequence:06d}",
        "issued_on": today.isoformat(),
        "corrects": original["number"],
        "corrects_issued_on": original["issued_on"],
        "reason": reason,
        "lines": [
            {
                "activity": label,
                "day": "",
                "start": "",
                "end": "",
                "price_cents": cents,
                "quantity": "1",
                "amount_cents": cents,
            }
        ],
        "amount_cents": cents,
        "allowance_cents": 0,
        "allowance_reason": "",
        "total_cents": cents,
        "mentions": original["mentions"],
    }
    pdf = facturx.embed(
        documents.credit_note_pdf(content), facturx.cii_xml(content), f"Avoir {content['number']}"
    )
    row = CreditNote(
        issuer=invoices.ISSUER_KEY,
        year=today.year,
        sequence=sequence,
        number=content["number"],
        invoice_id=invoice_id,
        reason=reason,
        issued_on=today,
        total_cents=cents,
        content_sealed=seal(settings.effective_secret_key, invoices.PURPOSE, json.dumps(content).encode()),
        pdf_sealed=seal(settings.effective_secret_key, invoices.PURPOSE, pdf),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        issued_by_id=user.id,
    )
    session.add(row)
    session.flush()
    return row


def of_invoices(session: Session, invoice_ids: list[int]) -> list[CreditNote]:
    if not invoice_ids:
        return []
    return list(
        session.exec(
            select(CreditNote).where(col(CreditNote.invoice_id).in_(invoice_ids)).order_by(col(CreditNote.id))
        )
    )


def readable(session: Session, user: User, credit_note_id: int) -> CreditNote:
    """A credit note the user may read: whoever may read its invoice."""
    row = one(session, CreditNote, credit_note_id, N_("No such credit note."))
    invoices.readable(session, user, row.invoice_id)
    return row


def pdf_of(settings: Settings, row: CreditNote) -> bytes:
    return unseal(settings.effective_secret_key, invoices.PURPOSE, row.pdf_sealed)
