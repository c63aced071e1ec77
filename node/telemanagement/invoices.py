"""Invoices from a validated month: for each plan of the funder with visits billed, one invoice to the
funder for its share and one to the beneficiary for theirs (a funder billed ``direct``), or one to the
beneficiary for the whole (a funder billed through the ``beneficiary``).

Each invoice lists the visits billed (their retained period: :func:`validation.billable`), each line
at the plan's hourly rate rounded half up to the cent; the beneficiary's share is the participation
rate of the amount, rounded once, the funder's the rest. The invoice to the funder deducts the
beneficiary's share, the one to the beneficiary deducts the funder's (a document-level allowance in
Factur-X).

Numbers run without gaps per issuer and year (``2026-000001``): the counter row is locked and bumped in
the transaction that writes the invoice, so a failure gives the number back. An invoice is written
once: its frozen content and its Factur-X PDF are sealed at rest (they carry an address) and never
edited; a correction is a credit note (:mod:`node.telemanagement.credit_notes`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.catalog import categories
from node.core.db import one
from node.core.errors import N_, Conflict, PermissionDenied
from node.core.sealing import seal, unseal
from node.settings import Settings
from node.telemanagement import checks, documents, facturx, plans, validation
from node.telemanagement.billing_models import Invoice, InvoiceCounter, MonthValidation
from node.telemanagement.models import Beneficiary, CarePlan, Funder
from node.telemanagement.tables import FunderRepresentative
from node.telemanagement.visits import PARIS

PURPOSE = "tm-invoice/1"
ISSUER_KEY = "node"
MSG_NOT_VALIDATED = N_("Validate the month for this funder before issuing its invoices.")


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def issuer(settings: Settings) -> dict[str, str]:
    """Who issues, with the mentions of art. D7233-1 that depend on the issuer."""
    siret = settings.telemanagement_issuer_siret.strip()
    declaration = settings.telemanagement_sap_declaration.strip()
    agrement = settings.telemanagement_sap_agrement.strip()
    return {
        "name": settings.telemanagement_issuer_name.strip() or settings.node_name,
        "address": settings.telemanagement_issuer_address.strip(),
        "siret": siret,
        "siren": siret[:9],
        "siren_line": f"SIREN {siret[:9]} - SIRET {siret}" if siret else "",
        "declaration_line": f"Déclaration de services à la personne n° {declaration}" if declaration else "",
        "agrement_line": f"Agrément / autorisation n° {agrement}" if agrement else "",
        "declared": "yes" if declaration else "",
    }


def _mentions(settings: Settings, who: dict[str, str]) -> list[str]:
    found = [
        "Prestations de services à la personne rendues au domicile du bénéficiaire (art. D7231-1 du code "
        "du travail). Le montant facturé est le montant effectivement dû pour ces prestations, frais de "
        "déplacement compris (aucun frais de déplacement facturé en sus).",
        "Moyens de paiement acceptés : carte bancaire, prélèvement, virement, titre interbancaire de "
        "paiement, chèque, chèque emploi service universel (CESU).",
        "TVA non applicable.",
    ]
    if who["declared"]:
        found.insert(
            1,
            "Les sommes payées par le bénéficiaire pour ces prestations ouvrent droit au crédit ou à la "
            "réduction d'impôt prévus à l'article 199 sexdecies du code général des impôts, dans ses "
            "limites ; les aides reçues (APA, PCH, caisses) en sont déduites.",
        )
    else:
        found.insert(
            1,
            "Le prestataire n'est pas déclaré au titre des services à la personne : cette facture n'ouvre "
            "pas droit aux avantages fiscaux de l'article 199 sexdecies du code général des impôts.",
        )
    return found


def _number(session: Session, year: int) -> int:
    counter = session.get(InvoiceCounter, (ISSUER_KEY, year), with_for_update=True)
    if counter is None:
        counter = InvoiceCounter(issuer=ISSUER_KEY, year=year, last=0)
    counter.last += 1
    session.add(counter)
    session.flush()
    return counter.last


@dataclass(frozen=True)
class _PlanBill:
    lines: list[dict[str, Any]]
    minutes: int
    amount: int
    beneficiary: int


def _plan_bill(session: Session, plan: CarePlan, month: str) -> tuple[_PlanBill, int, int]:
    first, _, _ = checks.month_bounds(month)
    version = plans.version_on(session, plan.id or 0, first)
    rate = version.hourly_rate_cents if version else 0
    participation = version.participation_bp if version else 0
    lines: list[dict[str, Any]] = []
    for row in validation.plan_billable(session, plan.id or 0, month):
        start, end = row.start.astimezone(PARIS), row.end.astimezone(PARIS)
        known = categories.is_category(row.visit.category)
        lines.append(
            {
                "visit_id": row.visit.id,
                "day": start.date().isoformat(),
                "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"),
                "minutes": row.minutes,
                "activity": row.visit.category,
                "activity_label": categories.label(row.visit.category, "fr") if known else row.visit.category,
                "worker": f"Intervenant n° {row.visit.provider_id}" if row.visit.provider_id else "-",
                "code": row.code,
                "amount_cents": _round(Decimal(row.minutes * rate) / 60),
            }
        )
    amount = sum(line["amount_cents"] for line in lines)
    share = _round(Decimal(amount * participation) / 10_000)
    bill = _PlanBill(lines, sum(line["minutes"] for line in lines), amount, share)
    return bill, rate, participation


def _period(month: str) -> tuple[str, str]:
    first, _, _ = checks.month_bounds(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(following.toordinal() - 1).isoformat()


def issue(session: Session, settings: Settings, user: User, funder_id: int, month: str) -> list[Invoice]:
    """Issue the month's invoices of a funder's plans that have none yet; refused before validation."""
    plans.require_coordinator(user)
    checks.month_bounds(month)
    funder = one(session, Funder, funder_id, N_("No such funder."))
    # Locked: two coordinators issuing the same month at once are taken one after the other, and the
    # second finds the invoices of the first (PostgreSQL; SQLite's write lock does the same).
    validated = session.exec(
        select(MonthValidation)
        .where(MonthValidation.funder_id == funder_id, MonthValidation.month == month)
        .with_for_update()
    ).first()
    if validated is None:
        raise Conflict(MSG_NOT_VALIDATED)
    who = issuer(settings)
    today = datetime.now(PARIS).date()
    made: list[Invoice] = []
    for plan in session.exec(
        select(CarePlan).where(CarePlan.funder_id == funder_id).order_by(col(CarePlan.id))
    ):
        bill, rate, participation = _plan_bill(session, plan, month)
        if not bill.lines:
            continue
        home = plans.beneficiary(session, plan.beneficiary_id)
        address = plans.private_details(
            session, settings, home, reader_id=user.id, fields="address", purpose="invoice"
        ).address
        beneficiary = {"name": home.name, "address": address}
        funder_party = {"name": funder.name, "address": "", "reference": funder.reference}
        funder_cents = bill.amount - bill.beneficiary
        if funder.billing == "direct":
            recipients = [("funder", funder_party, bill.beneficiary, "Participation du bénéficiaire")]
            if bill.beneficiary:
                recipients.append(
                    ("beneficiary", beneficiary, funder_cents, f"Prise en charge {funder.name}")
                )
        else:
            recipients = [("beneficiary", beneficiary, 0, "")]
        for recipient, client, allowance, reason in recipients:
            exists = session.exec(
                select(Invoice.id).where(
                    Invoice.plan_id == plan.id, Invoice.month == month, Invoice.recipient == recipient
                )
            ).first()
            if exists is not None:
                continue
            sequence = _number(session, today.year)
            content: dict[str, Any] = {
                "number": f"{today.year}-{sequence:06d}",
                "issued_on": today.isoformat(),
                "month": month,
                "period": _period(month),
                "recipient": recipient,
                "issuer": who,
                "client": client,
                "beneficiary": beneficiary,
                "funder": funder_party,
                "folder_number": plan.folder_number,
                "hourly_rate_cents": rate,
                "participation_bp": participation,
                "lines": bill.lines,
                "minutes": bill.minutes,
                "amount_cents": bill.amount,
                "funder_cents": funder_cents,
                "beneficiary_cents": bill.beneficiary,
                "allowance_cents": allowance,
                "allowance_reason": reason,
                "total_cents": bill.amount - allowance,
                "mentions": _mentions(settings, who),
            }
            pdf = facturx.embed(
                documents.invoice_pdf(content), facturx.cii_xml(content), f"Facture {content['number']}"
            )
            invoice = Invoice(
                issuer=ISSUER_KEY,
                year=today.year,
                sequence=sequence,
                number=content["number"],
                plan_id=plan.id or 0,
                funder_id=funder_id,
                beneficiary_id=plan.beneficiary_id,
                month=month,
                recipient=recipient,
                issued_on=today,
                total_cents=content["total_cents"],
                content_sealed=seal(settings.effective_secret_key, PURPOSE, json.dumps(content).encode()),
                pdf_sealed=seal(settings.effective_secret_key, PURPOSE, pdf),
                pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                issued_by_id=user.id,
            )
            session.add(invoice)
            session.flush()
            made.append(invoice)
    return made


def content_of(settings: Settings, invoice: Invoice) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(unseal(settings.effective_secret_key, PURPOSE, invoice.content_sealed))
    return data


def pdf_of(settings: Settings, invoice: Invoice) -> bytes:
    return unseal(settings.effective_secret_key, PURPOSE, invoice.pdf_sealed)


def invoices(
    session: Session,
    *,
    funder_id: int | None = None,
    beneficiary_id: int | None = None,
    year: int | None = None,
) -> list[Invoice]:
    query = select(Invoice).order_by(col(Invoice.year).desc(), col(Invoice.sequence).desc())
    if funder_id is not None:
        query = query.where(Invoice.funder_id == funder_id)
    if beneficiary_id is not None:
        query = query.where(Invoice.beneficiary_id == beneficiary_id)
    if year is not None:
        query = query.where(Invoice.year == year)
    return list(session.exec(query))


def readable(session: Session, user: User, invoice_id: int) -> Invoice:
    """An invoice the user may read: a coordinator any, a beneficiary their own, a funder's
    representative those addressed to their funder."""
    invoice = one(session, Invoice, invoice_id, N_("No such invoice."))
    if user.is_coordinator:
        return invoice
    if invoice.recipient == "funder":
        if session.get(FunderRepresentative, (invoice.funder_id, user.id)) is not None:
            return invoice
    home = plans.beneficiary(session, invoice.beneficiary_id)
    if home.user_id is None or home.user_id != user.id or invoice.recipient != "beneficiary":
        raise PermissionDenied(N_("This invoice is not yours."))
    return invoice


def homes_of(session: Session, user: User) -> list[Beneficiary]:
    """The beneficiaries' files linked to the user's account."""
    return list(
        session.exec(select(Beneficiary).where(Beneficiary.user_id == user.id).order_by(col(Beneficiary.id)))
    )


def own(session: Session, user: User, funder_id: int | None = None) -> list[Invoice]:
    """The invoices addressed to the user as a beneficiary."""
    return [
        row
        for home in homes_of(session, user)
        for row in invoices(session, beneficiary_id=home.id, funder_id=funder_id)
        if row.recipient == "beneficiary"
    ]


def beneficiaries_by_id(session: Session) -> dict[int, Beneficiary]:
    return {row.id or 0: row for row in session.exec(select(Beneficiary))}
