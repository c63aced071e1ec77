"""The annual tax certificate (attestation fiscale, art. D7233-4 of the labour code) of a beneficiary:
what they paid in a year for services à la personne at home, from the invoices addressed to them.

What is known of its content (docs/telemanagement.md): issued by a declared provider to each client
each year, with the provider's identification and declaration number. What is assumed: the amounts
"actually paid" are those of the invoices to the beneficiary for the months of the year (no payment is
recorded on the node), the funder's share is left out since aids are deducted from the tax base, and the
workers are named by their identification number with their hours, as the invoices do. Drawn on
demand from the sealed invoices: the same year gives the same certificate until an invoice is added.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.errors import N_, NotFound, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import documents, invoices, plans
from node.telemanagement.billing_models import Invoice

MSG_YEAR = N_("Give a year between 2000 and 2100.")
MSG_NOTHING = N_("No invoice was addressed to this beneficiary for that year.")


def certificate(session: Session, settings: Settings, beneficiary_id: int, year: int) -> dict[str, Any]:
    """The certificate's content; :class:`NotFound` when nothing was invoiced to the beneficiary."""
    if not 2000 <= year <= 2100:
        raise ValidationFailed(MSG_YEAR, fields={"year": MSG_YEAR})
    home = plans.beneficiary(session, beneficiary_id)
    rows = list(
        session.exec(
            select(Invoice)
            .where(
                Invoice.beneficiary_id == beneficiary_id,
                Invoice.recipient == "beneficiary",
                col(Invoice.month).startswith(f"{year}-"),
            )
            .order_by(col(Invoice.month), col(Invoice.sequence))
        )
    )
    if not rows:
        raise NotFound(MSG_NOTHING)
    who = invoices.issuer(settings)
    workers: dict[str, int] = {}
    for row in rows:
        for line in invoices.content_of(settings, row)["lines"]:
            workers[line["worker"]] = workers.get(line["worker"], 0) + line["minutes"]
    mentions = [
        "Montants payés par le bénéficiaire, aides des financeurs (APA, PCH, caisses, mutuelles) déduites.",
        "Attestation établie pour le crédit ou la réduction d'impôt de l'article 199 sexdecies du code "
        "général des impôts.",
    ]
    if not who["declared"]:
        mentions = [
            "Le prestataire n'est pas déclaré au titre des services à la personne : ces sommes n'ouvrent "
            "pas droit aux avantages fiscaux de l'article 199 sexdecies du code général des impôts."
        ]
    return {
        "year": year,
        "issuer": who,
        "beneficiary": {
            "name": home.name,
            "address": plans.private_details(
                session, settings, home, reader_id=None, fields="address", purpose="certificate"
            ).address,
        },
        "invoices": [{"number": row.number, "month": row.month, "cents": row.total_cents} for row in rows],
        "paid_cents": sum(row.total_cents for row in rows),
        "workers": [{"worker": name, "minutes": minutes} for name, minutes in sorted(workers.items())],
        "mentions": mentions,
    }


def certificate_pdf(
    session: Session, settings: Settings, user: User, beneficiary_id: int, year: int
) -> bytes:
    """The certificate as PDF, for a coordinator or the beneficiary themselves."""
    home = plans.beneficiary(session, beneficiary_id)
    if not user.is_coordinator and (home.user_id is None or home.user_id != user.id):
        raise PermissionDenied(N_("This certificate is not yours."))
    return documents.certificate_pdf(certificate(session, settings, beneficiary_id, year))


def years(session: Session, beneficiary_id: int) -> list[int]:
    """The years with an invoice to the beneficiary, latest first."""
    months = session.exec(
        select(Invoice.month).where(
            Invoice.beneficiary_id == beneficiary_id, Invoice.recipient == "beneficiary"
        )
    )
    return sorted({int(month[:4]) for month in months}, reverse=True)
