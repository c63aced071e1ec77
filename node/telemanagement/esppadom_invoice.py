"""Export of the invoices issued to a funder for a month: ESPPADOM INVOICE XML and a CSV of the same lines.

One ``CrossIndustryInvoice`` message per invoice addressed to the funder (its share of one plan's
month, :mod:`node.telemanagement.invoices`), in one ``invoice`` file per funder and month, shaped as
the EDESS implementation guide's INVOICE is known from public sources and as our DELIVERY is written
(what is known and what is assumed: docs/admin/telemanagement-billing.md): the invoice number and
dates, the node as seller (its reference with the funder, SIRET, agrément), the funder as buyer, the
billing period, and a line per beneficiary's folder (the plan's folder number as ``OrderLineID``, as in
DELIVERY) with the hours billed (``HUR``), the hourly rate, the amount, the beneficiary's share and the
funder's, the frame ``PRE`` and the kind of aid; then the totals with the beneficiary's share deducted.

The amounts are those frozen in each invoice at issue, never recomputed. Credit notes are not carried.
The file is checked against ``data/esppadom-invoice.xsd`` before it is handed out; made on demand for a
coordinator, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from sqlmodel import Session, col, select

from node.core.errors import N_, Conflict
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import esppadom, invoices
from node.telemanagement.billing_models import Invoice
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
)


@dataclass(frozen=True)
class Line:
    """One funder invoice as exported: the stored row and its frozen content."""

    invoice: Invoice
    content: dict[str, Any]

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
    """The month's invoices addressed to a funder of APA, PCH or home help, in number order."""
    funder = esppadom.validated_funder(session, funder_id, month)
    rows = session.exec(
        select(Invoice)
        .where(Invoice.funder_id == funder_id, Invoice.month == month, Invoice.recipient == "funder")
        .order_by(col(Invoice.year), col(Invoice.sequence))
    ).all()
    if not rows:
        raise Conflict(MSG_NONE)
    return funder, [Line(row, invoices.content_of(settings, row)) for row in rows]


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
        add(document, "ID", row.number)
        add(document, "TypeCode", TYPE_CODE)
        add(document, "IssueDate", row.issued_on.isoformat())
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
        add(total, "LineTotalAmount", euros(content["amount_cents"]))
        add(total, "AllowanceTotalAmount", euros(content["allowance_cents"]))
        add(total, "DuePayableAmount", euros(row.total_cents))
        item = add(trade, "IncludedCIILSupplyChainTradeLineItem")
        document_line = add(item, "AssociatedCIILDocumentLineDocument")
        add(document_line, "LineID", "1")
        add(document_line, "OrderLineID", content["folder_number"])
        ship_to = add(item, "ShipToCITradeParty")
        scheme_id(ship_to, "pie:ID", str(row.beneficiary_id))
        add(ship_to, "pie:Name", content["beneficiary"]["name"])
        add(ship_to, "pie:LastName", content["beneficiary"]["name"])
        add(item, "SpecifiedCIILSupplyChainTradeDelivery/BilledQuantity", line.hours, unitCode="HUR")
        price = add(item, "SpecifiedCIILSupplyChainTradeAgreement/NetPriceProductCITradePrice")
        add(price, "ChargeAmount", euros(content["hourly_rate_cents"]))
        add(price, "BasisQuantity", "1", unitCode="HUR")
        line_settlement = add(item, "SpecifiedCIILSupplyChainTradeSettlement")
        add(line_settlement, "CadreIntervention", CADRE, listAgencyName="EDESS", listID="ESPPADOM_CADRE")
        amounts = add(line_settlement, "SpecifiedCIILTradeSettlementMonetarySummation")
        add(amounts, "LineTotalAmount", euros(content["amount_cents"]))
        add(amounts, "BeneficiaryShareAmount", euros(content["beneficiary_cents"]))
        add(amounts, "FunderShareAmount", euros(content["funder_cents"]))
        esppadom.product(item, funder, line.activities)
    return esppadom.checked(root, schema())


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def invoice_csv(session: Session, settings: Settings, funder_id: int, month: str) -> str:
    """The same lines as CSV (comma separated, ISO dates, euros with dot decimals)."""
    funder, found = lines(session, settings, funder_id, month)
    return esppadom.csv_text(
        CSV_COLUMNS,
        (
            (
                month,
                funder.reference,
                line.invoice.number,
                line.invoice.issued_on.isoformat(),
                line.content["period"][0],
                line.content["period"][1],
                line.content["folder_number"],
                TYPE_AIDE[funder.kind],
                line.invoice.beneficiary_id,
                line.content["beneficiary"]["name"],
                line.activities,
                line.hours,
                euros(line.content["hourly_rate_cents"]),
                euros(line.content["amount_cents"]),
                euros(line.content["beneficiary_cents"]),
                euros(line.content["funder_cents"]),
                euros(line.invoice.total_cents),
            )
            for line in found
        ),
    )
