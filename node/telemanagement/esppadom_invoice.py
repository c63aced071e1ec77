"""Export of the invoices issued to a funder for a month: ESPPADOM INVOICE XML and a CSV of the same lines.

One ``CrossIndustryInvoice`` message per invoice addressed to the funder (its share of one plan's
month, :mod:`node.telemanagement.invoices`), in one ``invoice`` file per funder and month, shaped as
the EDESS implementation guide's INVOICE is known from public sources and as our DELIVERY is written
(what is known and what is assumed: docs/admin/telemanagement-billing.md): the invoice number and
dates, the node as seller (its reference with the funder, SIRET, agrément), the funder as buyer, the
billing period, and a line per beneficiary's folder (the plan's folder number as ``OrderLineID``, as in
DELIVERY) with the hours billed (``HUR``), the hourly rate, the amount, the beneficiary's share and the
funder's, the frame ``PRE`` and the kind of aid; then the totals with the beneficiary's share deducted.

A credit note (:mod:`node.telemanagement.credit_notes`) on one of these invoices follows it as a message
of its own, type ``381``, its amounts positive as in UN/CEFACT and Chorus, the credited invoice in
``InvoiceReferencedDocument``, the reason as the document's note, and one line on the same folder with
the credited amount as the funder's share and no hours (a credit note takes back an amount, not hours);
what the funder owes is the invoices' totals less their credit notes' (assumed shape: see the schema's
header). In the CSV a credit note is a line of negative amounts, so that the column ``invoice_total``
adds up to what the funder owes, and each invoice's line says what is left of it (``net_total``).

The amounts are those frozen in each invoice and credit note at issue, never recomputed.
The file is checked against ``data/esppadom-invoice.xsd`` before it is handed out; made on demand for a
coordinator, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from sqlmodel import Session, col, select

from node.core.errors import N_, Conflict
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import credit_notes, esppadom, invoices
from node.telemanagement.billing_models import CreditNote, Invoice
from node.telemanagement.esppadom import CADRE, PIE, QDT, RAM, TYPE_AIDE, VERSION
from node.telemanagement.esppadom import _add as add
from node.telemanagement.esppadom import _address as postal_address
from node.telemanagement.esppadom import _id as scheme_id
from node.telemanagement.facturx import _euros as euros
from node.telemanagement.models import Funder
from node.telemanagement.visits import PARIS

NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:2"
NAMESPACES = {"ns": NS, None: RAM, "pie": PIE, "qdt": QDT}
TYPE_CODE = "380"  # UNTDID 1001: commercial invoice
CREDIT_NOTE_CODE = "381"  # UNTDID 1001: credit note, as in the credit note's Factur-X
SCHEMA = Path(__file__).parent / "data" / "esppadom-invoice.xsd"
MSG_NONE = N_(
    "No invoice is addressed to this funder for this month: issue the month's invoices first "
    "(a funder billed through the beneficiary receives none)."
)
CSV_COLUMNS = (
    "month",
    "funder_reference",
    "invoice_number",
    "issued_on",
    "period_start",
    "period_end",
    "folder_number",
    "type_aide",
    "beneficiary_id",
    "beneficiary",
    "activities",
    "billed_hours",
    "hourly_rate",
    "amount",
    "beneficiary_share",
    "funder_share",
    "invoice_total",
    "document_type",
    "credited_invoice",
    "net_total",
)


@dataclass(frozen=True)
class Line:
    """One document to the funder as exported: an invoice, or a credit note on it (``credit``), with
    the invoice's frozen content (the credit note's copies the same folder, beneficiary and period)."""

    invoice: Invoice
    content: dict[str, Any]
    credit: CreditNote | None = None
    credited_cents: int = 0  # on an invoice: what its credit notes take back

    @property
    def number(self) -> str:
        return self.credit.number if self.credit else self.invoice.number

    @property
    def issued_on(self) -> date:
        return self.credit.issued_on if self.credit else self.invoice.issued_on

    @property
    def type_code(self) -> str:
        return CREDIT_NOTE_CODE if self.credit else TYPE_CODE

    @property
    def due_cents(self) -> int:
        """What the document asks of the funder (a credit note's: what it gives back), positive."""
        return self.credit.total_cents if self.credit else self.invoice.total_cents

    @property
    def line_cents(self) -> int:
        """The line's amount: all the visits of an invoice, what a credit note gives back."""
        return self.credit.total_cents if self.credit else int(self.content["amount_cents"])

    @property
    def allowance_cents(self) -> int:
        return 0 if self.credit else int(self.content["allowance_cents"])

    @property
    def shares(self) -> tuple[int, int]:
        """The beneficiary's and the funder's share of the line (a credit note's is the funder's)."""
        if self.credit:
            return 0, self.credit.total_cents
        return int(self.content["beneficiary_cents"]), int(self.content["funder_cents"])

    @property
    def hours(self) -> str:
        minutes = Decimal(int(self.content["minutes"]))
        return str((minutes / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    @property
    def activities(self) -> str:
        return ",".join(dict.fromkeys(str(line["activity"]) for line in self.content["lines"]))


def _ns(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{NS}}}{name}")


def lines(session: Session, settings: Settings, funder_id: int, month: str) -> tuple[Funder, list[Line]]:
    """The month's invoices addressed to a funder of APA, PCH or home help, each followed by its credit
    notes (whenever issued), in number order."""
    funder = esppadom.validated_funder(session, funder_id, month)
    rows = session.exec(
        select(Invoice)
        .where(Invoice.funder_id == funder_id, Invoice.month == month, Invoice.recipient == "funder")
        .order_by(col(Invoice.year), col(Invoice.sequence))
    ).all()
    if not rows:
        raise Conflict(MSG_NONE)
    credits: dict[int, list[CreditNote]] = {}
    for note in credit_notes.of_invoices(session, [row.id or 0 for row in rows]):
        credits.setdefault(note.invoice_id, []).append(note)
    found: list[Line] = []
    for row in rows:
        content, notes = invoices.content_of(settings, row), credits.get(row.id or 0, [])
        found.append(Line(row, content, credited_cents=sum(note.total_cents for note in notes)))
        found.extend(Line(row, content, credit=note) for note in notes)
    return funder, found


def invoice_xml(session: Session, settings: Settings, funder_id: int, month: str) -> bytes:
    """The month's INVOICE file, checked against the kept schema."""
    funder, found = lines(session, settings, funder_id, month)
    issued = utcnow().astimezone(PARIS).replace(microsecond=0)
    transaction = issued.strftime("%Y%m%d%H%M%S")
    agrement = settings.telemanagement_sap_agrement.strip()
    root = etree.Element(f"{{{NS}}}invoice", nsmap=NAMESPACES)
    root.set("versionID", VERSION)
    for index, line in enumerate(found, start=1):
        content, row = line.content, line.invoice
        who = content["issuer"]
        message = _ns(root, "CrossIndustryInvoice")
        context = _ns(message, "CIIHExchangedDocumentContext")
        add(context, "VersionID", VERSION)
        add(context, "SpecifiedTransactionID", f"I{transaction}{index}")
        document = _ns(message, "CIIHExchangedDocument")
        add(document, "ID", line.number)
        add(document, "TypeCode", line.type_code)
        add(document, "IssueDate", line.issued_on.isoformat())
        if line.credit:
            add(document, "IncludedNote/Content", line.credit.reason)
        trade = _ns(message, "CIIHSupplyChainTradeTransaction")
        agreement = add(trade, "ApplicableCIIHSupplyChainTradeAgreement")
        seller = add(agreement, "SellerCITradeParty")
        scheme_id(seller, "pie:ID", funder.reference)
        add(seller, "pie:Name", who["name"])
        add(seller, "pie:SIRET", who["siret"])
        if agrement:
            add(seller, "AgrementID", agrement)
        postal_address(seller, who["address"], "")
        buyer = add(agreement, "BuyerCITradeParty")
        scheme_id(buyer, "pie:ID", funder.siret or funder.reference)
        add(buyer, "pie:Name", funder.name)
        period = add(trade, "ApplicableCIIHSupplyChainTradeDelivery/BillingCISpecifiedPeriod")
        add(period, "StartDate", content["period"][0])
        add(period, "EndDate", content["period"][1])
        settlement = add(trade, "ApplicableCIIHSupplyChainTradeSettlement")
        add(settlement, "InvoiceCurrencyCode", "EUR")
        total = add(settlement, "SpecifiedCIIHTradeSettlementMonetarySummation")
        add(total, "LineTotalAmount", euros(line.line_cents))
        add(total, "AllowanceTotalAmount", euros(line.allowance_cents))
        add(total, "DuePayableAmount", euros(line.due_cents))
        if line.credit:
            credited = add(settlement, "InvoiceReferencedDocument")
            add(credited, "IssuerAssignedID", row.number)
            add(credited, "IssueDate", row.issued_on.isoformat())
        item = add(trade, "IncludedCIILSupplyChainTradeLineItem")
        document_line = add(item, "AssociatedCIILDocumentLineDocument")
        add(document_line, "LineID", "1")
        add(document_line, "OrderLineID", content["folder_number"])
        ship_to = add(item, "ShipToCITradeParty")
        scheme_id(ship_to, "pie:ID", str(row.beneficiary_id))
        add(ship_to, "pie:Name", content["beneficiary"]["name"])
        add(ship_to, "pie:LastName", content["beneficiary"]["name"])
        if not line.credit:
            add(item, "SpecifiedCIILSupplyChainTradeDelivery/BilledQuantity", line.hours, unitCode="HUR")
            price = add(item, "SpecifiedCIILSupplyChainTradeAgreement/NetPriceProductCITradePrice")
            add(price, "ChargeAmount", euros(content["hourly_rate_cents"]))
            add(price, "BasisQuantity", "1", unitCode="HUR")
        line_settlement = add(item, "SpecifiedCIILSupplyChainTradeSettlement")
        add(line_settlement, "CadreIntervention", CADRE, listAgencyName="EDESS", listID="ESPPADOM_CADRE")
        amounts = add(line_settlement, "SpecifiedCIILTradeSettlementMonetarySummation")
        shares = (
            (0, line.due_cents) if line.credit else (content["beneficiary_cents"], content["funder_cents"])
        )
        add(amounts, "LineTotalAmount", euros(line.due_cents if line.credit else content["amount_cents"]))
        add(amounts, "BeneficiaryShareAmount", euros(shares[0]))
        add(amounts, "FunderShareAmount", euros(shares[1]))
        esppadom.product(item, funder, line.activities)
    return esppadom.checked(root, schema())


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def invoice_csv(session: Session, settings: Settings, funder_id: int, month: str) -> str:
    """The same lines as CSV (comma separated, ISO dates, euros with dot decimals); a credit note's
    amounts negative, so that ``invoice_total`` adds up to what the funder owes."""
    funder, found = lines(session, settings, funder_id, month)
    return esppadom.csv_text(CSV_COLUMNS, (_csv_row(month, funder, line) for line in found))


def _csv_row(month: str, funder: Funder, line: Line) -> tuple[object, ...]:
    content, credit = line.content, line.credit
    sign = -1 if credit else 1
    return (
        month,
        funder.reference,
        line.number,
        line.issued_on.isoformat(),
        content["period"][0],
        content["period"][1],
        content["folder_number"],
        TYPE_AIDE[funder.kind],
        line.invoice.beneficiary_id,
        content["beneficiary"]["name"],
        "" if credit else line.activities,
        "" if credit else line.hours,
        "" if credit else euros(content["hourly_rate_cents"]),
        euros(sign * line.line_cents),
        euros(sign * line.shares[0]),
        euros(sign * line.shares[1]),
        euros(sign * line.due_cents),
        line.type_code,
        line.invoice.number if credit else "",
        "" if credit else euros(line.invoice.total_cents - line.credited_cents),
    )
