"""URSSAF "avance immédiate": the payment request (demande de paiement) of an issued invoice, in the
shape of the API Tiers de prestation, as a JSON document the provider uploads or hands to its own
tool. The node never calls the API.

The field names are those of the API's ``demandePaiement`` as seen in the sector's public sources (the
research notes on the sector; docs/admin/telemanagement-billing.md lists what is confirmed and what is
not): ``idTiersFacturation``, ``idClient``, ``dateNaissanceClient``, ``numFactureTiers``,
``dateFacture``, ``dateDebutEmploi``/``dateFinEmploi``, ``mntFactureTTC``/``mntFactureHT`` and the lines
``inputPrestations`` (``codeNature``, ``quantite``, ``unite``, ``mntUnitaireTTC``,
``mntPrestationTTC``/``HT``/``TVA``, ``complement1``). The document is an array of one request, as the
API's body is read to be, and is checked against ``data/urssaf-demande-paiement.schema.json``.

Only an invoice to the beneficiary, issued by a declared provider registered with the service
(``telemanagement_urssaf_tiers_id``), with no credit note (URSSAF takes no credit notes: a correction
is a new invoice) and something to pay, makes a request. The amounts are the invoice's, frozen at
issue: its lines grouped by activity, the funder's share (deducted on the invoice) spread over them in
proportion, the rounding left on the last, so the lines add up to the invoice's total to the cent.

The URSSAF client identifier and birth date are given at each download and never stored (the client
is registered with URSSAF by the provider's own tool); so is the nature code of the activity, from the
list URSSAF gives with the habilitation, which is not reproduced here.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from sqlmodel import Session, col, select

from node.core.db import one
from node.core.errors import N_, Conflict, ValidationFailed
from node.settings import Settings
from node.telemanagement import invoices
from node.telemanagement.billing_models import CreditNote, Invoice

SCHEMA = Path(__file__).parent / "data" / "urssaf-demande-paiement.schema.json"
CLIENT_ID = re.compile(r"^[A-Za-z0-9-]{1,50}$")
NATURE_CODE = re.compile(r"^[A-Z0-9]{1,10}$")
MSG_NOT_REGISTERED = N_(
    "This node is not registered with URSSAF's avance immédiate (no tiers de prestation identifier is set)."
)
MSG_NOT_DECLARED = N_("Only a provider declared for services à la personne can use the avance immédiate.")
MSG_FUNDER = N_("Only an invoice to the beneficiary is paid through the avance immédiate, not the funder's.")
MSG_CREDITED = N_(
    "This invoice has a credit note: URSSAF takes no credit note, issue a new invoice for the correction."
)
MSG_NOTHING = N_("This invoice has nothing left for the beneficiary to pay.")


def _euros(cents: int) -> float:
    return float(Decimal(cents) / 100)


def _moment(day: str) -> str:
    return f"{day}T00:00:00Z"


def _lines(content: dict[str, Any], nature: str) -> list[dict[str, Any]]:
    """The invoice's lines by activity, each with its part of the invoice's total."""
    groups: dict[str, tuple[str, int, int]] = {}
    for line in content["lines"]:
        label, minutes, cents = groups.get(line["activity"], (line["activity_label"], 0, 0))
        groups[line["activity"]] = (label, minutes + int(line["minutes"]), cents + int(line["amount_cents"]))
    total, amount = int(content["total_cents"]), int(content["amount_cents"])
    left = total
    found: list[dict[str, Any]] = []
    for index, (label, minutes, cents) in enumerate(groups.values()):
        last = index == len(groups) - 1
        share = left if last else int((Decimal(cents * total) / amount).quantize(Decimal(1), ROUND_HALF_UP))
        left -= share
        hours = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        # By the hour when hours × hourly amount gives the line's amount exactly, else as one package
        # (funder's share deducted, or minutes that do not fall on a cent).
        unit = (Decimal(share) / 100 / hours).quantize(Decimal("0.01")) if hours else Decimal(0)
        hourly = bool(hours) and unit * hours * 100 == share
        found.append(
            {
                "codeNature": nature,
                "quantite": float(hours) if hourly else 1.0,
                "unite": "HEURE" if hourly else "FORFAIT",
                "mntUnitaireTTC": float(unit) if hourly else _euros(share),
                "mntPrestationTTC": _euros(share),
                "mntPrestationHT": _euros(share),
                "mntPrestationTVA": 0.0,
                "complement1": f"{minutes // 60} h {minutes % 60:02d} : {label}"[:50],
            }
        )
    return found


def payment_request(
    session: Session, settings: Settings, invoice_id: int, *, client_id: str, birth_date: str, nature: str
) -> list[dict[str, Any]]:
    """The payment request of an issued invoice to a beneficiary, checked against the kept schema."""
    tiers = settings.telemanagement_urssaf_tiers_id.strip()
    if not tiers:
        raise Conflict(MSG_NOT_REGISTERED)
    invoice = one(session, Invoice, invoice_id, N_("No such invoice."))
    errors: dict[str, str] = {}
    if not CLIENT_ID.match(client_id.strip()):
        errors["id_client"] = N_("The client's URSSAF identifier: letters, digits and dashes, up to 50.")
    try:
        born = date.fromisoformat(birth_date.strip())
    except ValueError:
        born = None
    if born is None or not date(1900, 1, 1) <= born < invoice.issued_on:
        errors["birth_date"] = N_("The client's birth date, as YYYY-MM-DD.")
    if not NATURE_CODE.match(nature.strip()):
        errors["code_nature"] = N_("The URSSAF nature code of the service (capitals and digits, up to 10).")
    if errors:
        raise ValidationFailed(N_("Some fields need fixing."), fields=errors)
    if invoice.recipient != "beneficiary":
        raise Conflict(MSG_FUNDER)
    if session.exec(select(CreditNote.id).where(col(CreditNote.invoice_id) == invoice.id)).first():
        raise Conflict(MSG_CREDITED)
    content = invoices.content_of(settings, invoice)
    if not content["issuer"].get("declared"):
        raise Conflict(MSG_NOT_DECLARED)
    if invoice.total_cents <= 0 or not content["lines"]:
        raise Conflict(MSG_NOTHING)
    days = sorted(str(line["day"]) for line in content["lines"])
    request = {
        "idTiersFacturation": tiers,
        "idClient": client_id.strip(),
        "dateNaissanceClient": _moment(born.isoformat() if born else ""),
        "numFactureTiers": invoice.number,
        "dateFacture": _moment(invoice.issued_on.isoformat()),
        "dateDebutEmploi": _moment(days[0]),
        "dateFinEmploi": _moment(days[-1]),
        "mntFactureTTC": _euros(invoice.total_cents),
        "mntFactureHT": _euros(invoice.total_cents),
        "inputPrestations": _lines(content, nature.strip()),
    }
    document = [request]
    jsonschema.validate(document, schema())
    return document


def payment_request_json(
    session: Session, settings: Settings, invoice_id: int, *, client_id: str, birth_date: str, nature: str
) -> bytes:
    """The same as a UTF-8 JSON file."""
    document = payment_request(
        session, settings, invoice_id, client_id=client_id, birth_date=birth_date, nature=nature
    )
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded
