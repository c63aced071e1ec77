"""Export of a funder's care plans in force in a month: ESPPADOM ORDER XML and a CSV of the same lines.

ORDER is the funder's order to the provider (the plan d'aide with its hours and rates); the node holds
it as the coordinator entered it. This export writes it back in the message's shape, one
``CrossIndustryOrder`` per plan with a version in force on the month's first day, in one ``order``
file per funder and month, so the funder's own records can be checked against the node's: the folder
number as the order's ID (DELIVERY's ``OrderLineID``), the funder as buyer, the node as seller, the
beneficiary as ship-to, the version's validity, and a line per activity with the hours granted per
month (``HUR``), the hourly rate and the beneficiary's participation rate.

Only the message's content is known from public sources (funder, beneficiary, detailed plan with
frequencies and rates); its structure here is assumed by analogy with DELIVERY and INVOICE (listed in
``data/esppadom-order.xsd`` and docs/admin/telemanagement-billing.md). Made on demand, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from lxml import etree
from sqlmodel import Session, col, select

from node.core.errors import N_, Conflict
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import checks, esppadom, plans
from node.telemanagement.esppadom import CADRE, PIE, QDT, RAM, TYPE_AIDE, VERSION
from node.telemanagement.esppadom import _add as add
from node.telemanagement.esppadom import _id as scheme_id
from node.telemanagement.facturx import _euros as euros
from node.telemanagement.models import CarePlan, CarePlanVersion, Funder
from node.telemanagement.visits import PARIS

NS = "urn:un:unece:uncefact:data:standard:CrossIndustryOrder:2"
NAMESPACES = {"ns": NS, None: RAM, "pie": PIE, "qdt": QDT}
TYPE_CODE = "220"  # UNTDID 1001: order
SCHEMA = Path(__file__).parent / "data" / "esppadom-order.xsd"
MSG_NONE = N_("No plan of this funder is in force on the first day of this month.")
CSV_COLUMNS = esppadom.CSV_COLUMNS[:6] + (
    "version",
    "valid_from",
    "valid_until",
    "activity",
    "hours_per_month",
    "hourly_rate",
    "participation_percent",
)


@dataclass(frozen=True)
class Order:
    plan: CarePlan
    version: CarePlanVersion
    beneficiary: str
    hours: dict[str, int]

    @property
    def participation(self) -> str:
        return str((Decimal(self.version.participation_bp) / 100).quantize(Decimal("0.01")))


def _hours(minutes: int) -> str:
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def orders(session: Session, funder_id: int, month: str) -> tuple[Funder, list[Order]]:
    """The funder's plans with a version in force on the month's first day, by plan."""
    funder = esppadom.funder_of(session, funder_id, month)
    first, _, _ = checks.month_bounds(month)
    found: list[Order] = []
    for plan in session.exec(
        select(CarePlan).where(CarePlan.funder_id == funder_id).order_by(col(CarePlan.id))
    ):
        version = plans.version_on(session, plan.id or 0, first)
        if version is None:
            continue
        home = plans.beneficiary(session, plan.beneficiary_id)
        found.append(Order(plan, version, home.name, plans.hours_of(session, version.id or 0)))
    if not found:
        raise Conflict(MSG_NONE)
    return funder, found


def order_xml(session: Session, settings: Settings, funder_id: int, month: str) -> bytes:
    """The month's ORDER file, checked against the kept schema."""
    funder, found = orders(session, funder_id, month)
    issued = utcnow().astimezone(PARIS).replace(microsecond=0)
    transaction = issued.strftime("%Y%m%d%H%M%S")
    root = etree.Element(f"{{{NS}}}order", nsmap=NAMESPACES)
    root.set("versionID", VERSION)
    for index, order in enumerate(found, start=1):
        message = etree.SubElement(root, f"{{{NS}}}CrossIndustryOrder")
        context = etree.SubElement(message, f"{{{NS}}}CIOHExchangedDocumentContext")
        add(context, "VersionID", VERSION)
        add(context, "SpecifiedTransactionID", f"I{transaction}{index}")
        document = etree.SubElement(message, f"{{{NS}}}CIOHExchangedDocument")
        add(document, "ID", order.plan.folder_number)
        add(document, "TypeCode", TYPE_CODE)
        add(document, "IssueDateTime", issued.isoformat())
        trade = etree.SubElement(message, f"{{{NS}}}CIOHSupplyChainTradeTransaction")
        agreement = add(trade, "ApplicableCIOHSupplyChainTradeAgreement")
        buyer = add(agreement, "BuyerCITradeParty")
        scheme_id(buyer, "pie:ID", funder.siret or funder.reference)
        add(buyer, "pie:Name", funder.name)
        seller = add(agreement, "SellerCITradeParty")
        scheme_id(seller, "pie:ID", funder.reference)
        add(seller, "pie:Name", settings.telemanagement_issuer_name.strip() or settings.node_name)
        add(seller, "pie:SIRET", settings.telemanagement_issuer_siret.strip())
        delivery = add(trade, "ApplicableCIOHSupplyChainTradeDelivery")
        ship_to = add(delivery, "ShipToCITradeParty")
        scheme_id(ship_to, "pie:ID", str(order.plan.beneficiary_id))
        add(ship_to, "pie:Name", order.beneficiary)
        add(ship_to, "pie:LastName", order.beneficiary)
        period = add(delivery, "RequestedDeliveryCISpecifiedPeriod")
        add(period, "StartDate", order.version.valid_from.isoformat())
        if order.version.valid_until:
            add(period, "EndDate", order.version.valid_until.isoformat())
        settlement = add(trade, "ApplicableCIOHSupplyChainTradeSettlement")
        add(settlement, "InvoiceCurrencyCode", "EUR")
        add(settlement, "BeneficiaryParticipationPercent", order.participation)
        for number, (activity, minutes) in enumerate(sorted(order.hours.items()), start=1):
            item = add(trade, "IncludedCIOLSupplyChainTradeLineItem")
            add(item, "AssociatedCIOLDocumentLineDocument/LineID", str(number))
            wanted = add(item, "SpecifiedCIOLSupplyChainTradeDelivery")
            add(wanted, "RequestedQuantity", _hours(minutes), unitCode="HUR")
            add(wanted, "FrequencyCode", "MONTH")
            price = add(item, "SpecifiedCIOLSupplyChainTradeAgreement/NetPriceProductCITradePrice")
            add(price, "ChargeAmount", euros(order.version.hourly_rate_cents))
            add(
                item,
                "SpecifiedCIOLSupplyChainTradeSettlement/CadreIntervention",
                CADRE,
                listAgencyName="EDESS",
                listID="ESPPADOM_CADRE",
            )
            esppadom.product(item, funder, activity)
    return esppadom.checked(root, schema())


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def order_csv(session: Session, settings: Settings, funder_id: int, month: str) -> str:
    """The same lines as CSV, one per plan and activity (ISO dates, euros and hours with dot decimals)."""
    funder, found = orders(session, funder_id, month)
    return esppadom.csv_text(
        CSV_COLUMNS,
        (
            (
                month,
                funder.reference,
                order.plan.folder_number,
                TYPE_AIDE[funder.kind],
                order.plan.beneficiary_id,
                order.beneficiary,
                order.version.number,
                order.version.valid_from.isoformat(),
                order.version.valid_until.isoformat() if order.version.valid_until else "",
                activity,
                _hours(minutes),
                euros(order.version.hourly_rate_cents),
                order.participation,
            )
            for order in found
            for activity, minutes in sorted(order.hours.items())
        ),
    )
