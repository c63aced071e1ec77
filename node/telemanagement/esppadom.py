"""Exports of a funder's validated month of visits: ESPPADOM DELIVERY XML and a CSV of the same rows.

One DELIVERY message per visit done (or deleted with ``SUP``), in one ``delivery`` file per funder and
month, as the EDESS implementation guide's DELIVERY is known from public sources (the known parts and
the assumed ones are listed in docs/telemanagement.md): the funder as issuer of the order, the plan's
folder number as the order line, the beneficiary as ship-to, the node as ship-from with the worker as
contact ``INT``, the retained period with its adjustment code (``ESPPADOM_EFFECTIVITY_AJUST``), the
certified (clocked) period when both times were clocked, the billed quantity in hours (``HUR``) to
1/100 h from whole minutes, the frame ``PRE`` (prestataire) and the kind of aid (``ESPPADOM_TYPE_AIDE``).

The file is checked against the schema kept in ``data/esppadom-delivery.xsd`` before it is handed out.
It carries the beneficiaries' names and addresses: made on demand for a coordinator, never stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from lxml import etree
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.db import one
from node.core.errors import N_, Conflict, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement import checks, plans, validation
from node.telemanagement.billing_models import Resolution
from node.telemanagement.models import CarePlan, Funder, Visit
from node.telemanagement.visits import PARIS

VERSION = "1.4"
NS = "urn:un:unece:uncefact:data:standard:CrossIndustryDespatchAdvice:2"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:8"
PIE = "urn:un:unece:uncefact:data:standard:PersonInformationEntity:1"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:8"
NAMESPACES = {"ns": NS, None: RAM, "pie": PIE, "qdt": QDT}
_PREFIX = {"ns": NS, "ram": RAM, "pie": PIE, "qdt": QDT}
TYPE_AIDE = {"apa": "APA", "pch": "PCH", "pension": "AM"}
CADRE = "PRE"
SCHEMA = Path(__file__).parent / "data" / "esppadom-delivery.xsd"
MSG_FUNDER_KIND = N_("ESPPADOM is exchanged with funders of APA, PCH or home help (aide ménagère) only.")
MSG_NOT_VALIDATED = N_("Validate the month for this funder before exporting it.")
CSV_COLUMNS = (
    "month",
    "funder_reference",
    "folder_number",
    "type_aide",
    "beneficiary_id",
    "beneficiary",
    "visit_id",
    "worker_id",
    "activity",
    "planned_start",
    "planned_end",
    "certified_start",
    "certified_end",
    "retained_start",
    "retained_end",
    "adjustment_code",
    "billed_hours",
)


@dataclass(frozen=True)
class Row:
    plan: CarePlan
    visit: Visit
    beneficiary: str
    commune: str
    address: str
    worker: str
    retained: tuple[datetime, datetime]
    code: str
    minutes: int

    @property
    def hours(self) -> str:
        return str((Decimal(self.minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _local(moment: datetime | None) -> str:
    return moment.astimezone(PARIS).replace(microsecond=0).isoformat() if moment else ""


def funder_of(session: Session, funder_id: int, month: str) -> Funder:
    """A funder exchanging under ESPPADOM (APA, PCH, home help), for a well-formed month."""
    checks.month_bounds(month)
    funder = one(session, Funder, funder_id, N_("No such funder."))
    if funder.kind not in TYPE_AIDE:
        raise ValidationFailed(MSG_FUNDER_KIND)
    return funder


def validated_funder(session: Session, funder_id: int, month: str) -> Funder:
    """A funder exchanging under ESPPADOM whose month is validated."""
    funder = funder_of(session, funder_id, month)
    if validation.validation_of(session, funder_id, month) is None:
        raise Conflict(MSG_NOT_VALIDATED)
    return funder


def rows(session: Session, settings: Settings, funder_id: int, month: str) -> tuple[Funder, list[Row]]:
    """The month's visits done or deleted, of a funder whose month is validated."""
    funder = validated_funder(session, funder_id, month)
    found: list[Row] = []
    for plan in session.exec(
        select(CarePlan).where(CarePlan.funder_id == funder_id).order_by(col(CarePlan.id))
    ):
        home = plans.beneficiary(session, plan.beneficiary_id)
        address = plans.private_details(
            session, settings, home, reader_id=None, fields="address", purpose="esppadom"
        ).address
        billed = {row.visit.id: row for row in validation.plan_billable(session, plan.id or 0, month)}
        _, start, end = checks.month_bounds(month)
        deleted = session.exec(
            select(Visit, Resolution)
            .join(Resolution, col(Resolution.visit_id) == col(Visit.id))
            .where(
                Visit.plan_id == plan.id,
                Visit.starts_at >= start,
                Visit.starts_at < end,
                Resolution.code == "SUP",
            )
        )
        entries = [(row.visit, (row.start, row.end), row.code, row.minutes) for row in billed.values()]
        entries += [(visit, (visit.starts_at, visit.ends_at), "SUP", 0) for visit, _ in deleted]
        for visit, period, code, minutes in sorted(
            entries, key=lambda entry: (entry[0].starts_at, entry[0].id or 0)
        ):
            worker = session.get(User, visit.provider_id) if visit.provider_id else None
            found.append(
                Row(
                    plan,
                    visit,
                    home.name,
                    home.commune,
                    address,
                    worker.username if worker else "",
                    period,
                    code,
                    minutes,
                )
            )
    return funder, found


def _add(parent: etree._Element, path: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = parent
    for part in path.split("/"):
        prefix, _, name = part.rpartition(":")
        node = etree.SubElement(node, f"{{{_PREFIX[prefix or 'ram']}}}{name}")
    if text is not None:
        node.text = text
    for key, value in attrs.items():
        node.set(key, value)
    return node


def _id(parent: etree._Element, path: str, value: str) -> None:
    _add(parent, path, value, schemeAgencyName="token", schemeID="token")


def _address(parent: etree._Element, line: str, city: str) -> None:
    address = _add(parent, "pie:PostalCITradeAddress")
    _add(address, "pie:LineOne", line)
    _add(address, "pie:PostcodeCode", "")
    _add(address, "pie:CityName", city)
    _add(address, "pie:CountryID", "FR")


def delivery_xml(session: Session, settings: Settings, funder_id: int, month: str) -> bytes:
    """The month's DELIVERY file, checked against the kept schema."""
    funder, found = rows(session, settings, funder_id, month)
    issued = utcnow().astimezone(PARIS).replace(microsecond=0)
    transaction = issued.strftime("%Y%m%d%H%M%S")
    root = etree.Element(f"{{{NS}}}delivery", nsmap=NAMESPACES)
    root.set("versionID", VERSION)
    for index, row in enumerate(found, start=1):
        message_id = f"I{transaction}{index}"
        message = _add(root, "ns:CrossIndustryDespatchAdvice")
        context = _add(message, "ns:CIDDHExchangedDocumentContext")
        _add(context, "VersionID", VERSION)
        _add(context, "SpecifiedTransactionID", message_id)
        document = _add(message, "ns:CIDDHExchangedDocument")
        _add(document, "ID", message_id)
        _add(document, "IssueDateTime", issued.isoformat())
        trade = _add(message, "ns:CIDDHSupplyChainTradeTransaction")
        agreement = _add(trade, "ApplicableCIDDHSupplyChainTradeAgreement")
        issuer = _add(agreement, "BuyerOrderReferencedCIReferencedDocument/IssuerCITradeParty")
        _id(issuer, "pie:ID", funder.siret or funder.reference)
        _add(issuer, "pie:Name", funder.name)
        _id(_add(agreement, "ContractReferencedCIReferencedDocument"), "qdt:GlobalID", "P")
        delivery = _add(trade, "ApplicableCIDDHSupplyChainTradeDelivery")
        ship_to = _add(delivery, "ShipToCITradeParty")
        _id(ship_to, "pie:ID", str(row.plan.beneficiary_id))
        _add(ship_to, "pie:Name", row.beneficiary)
        _add(ship_to, "pie:LastName", row.beneficiary)
        _address(ship_to, row.address, row.commune)
        ship_from = _add(delivery, "ShipFromCITradeParty")
        _id(ship_from, "pie:ID", funder.reference)
        _add(ship_from, "pie:Name", settings.telemanagement_issuer_name.strip() or settings.node_name)
        _add(ship_from, "pie:SIRET", settings.telemanagement_issuer_siret.strip())
        contact = _add(ship_from, "pie:DefinedCITradeContact")
        _id(contact, "pie:ID", str(row.visit.provider_id or ""))
        _add(contact, "pie:PersonName", row.worker)
        _add(contact, "pie:TypeCode", "INT", listAgencyName="EDESS", listID="ESPPADOM_CONTACT_PRESTATAIRE")
        _address(ship_from, settings.telemanagement_issuer_address.strip(), "")
        event = _add(delivery, "ActualDespatchCISupplyChainEvent")
        if row.code:
            _add(event, "TypeCode", row.code, listAgencyName="EDESS", listID="ESPPADOM_EFFECTIVITY_AJUST")
        period = _add(event, "OccurrenceCISpecifiedPeriod")
        _add(period, "qdt:StartDateTime", _local(row.retained[0]))
        _add(period, "qdt:EndDateTime", _local(row.retained[1]))
        if row.visit.checked_in_at and row.visit.checked_out_at:
            effective = _add(delivery, "AdditionalReferencedCIReferencedDocument/EffectiveCISpecifiedPeriod")
            _add(effective, "StartDateTime/CertifiedDateTime", _local(row.visit.checked_in_at))
            _add(effective, "EndDateTime/CertifiedDateTime", _local(row.visit.checked_out_at))
        _add(trade, "ApplicableCIDDHSupplyChainTradeSettlement")
        item = _add(trade, "IncludedCIDDLSupplyChainTradeLineItem")
        line = _add(item, "AssociatedCIDDLDocumentLineDocument")
        _add(line, "LineID", message_id)
        _add(line, "OrderLineID", row.plan.folder_number)
        _add(item, "SpecifiedCIDDLSupplyChainTradeDelivery/BilledQuantity", row.hours, unitCode="HUR")
        _add(
            item,
            "SpecifiedCIDDLSupplyChainTradeSettlement/CadreIntervention",
            CADRE,
            listAgencyName="EDESS",
            listID="ESPPADOM_CADRE",
        )
        product(item, funder, row.visit.category)
    return checked(root, schema())


def product(item: etree._Element, funder: Funder, name: str) -> None:
    """The line's product: the kind of aid (``ESPPADOM_TYPE_AIDE``) and the activity."""
    found = _add(item, "SpecifiedCITradeProduct")
    _add(found, "qdt:ID", TYPE_AIDE[funder.kind], listAgencyName="EDESS", listID="ESPPADOM_TYPE_AIDE")
    _add(found, "qdt:Name", name)


def checked(root: etree._Element, against: etree.XMLSchema) -> bytes:
    """The file, once valid against the kept schema (else an error: a bug, never a partial file)."""
    against.assertValid(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def csv_text(columns: Sequence[str], lines: Iterable[Sequence[object]]) -> str:
    """Comma separated lines under their header, CRLF ended."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(lines)
    return out.getvalue()


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def delivery_csv(session: Session, settings: Settings, funder_id: int, month: str) -> str:
    """The same rows as CSV (comma separated, Paris times with their offset, dot decimals)."""
    funder, found = rows(session, settings, funder_id, month)
    return csv_text(
        CSV_COLUMNS,
        (
            (
                month,
                funder.reference,
                row.plan.folder_number,
                TYPE_AIDE[funder.kind],
                row.plan.beneficiary_id,
                row.beneficiary,
                row.visit.id,
                row.visit.provider_id or "",
                row.visit.category,
                _local(row.visit.starts_at),
                _local(row.visit.ends_at),
                _local(row.visit.checked_in_at),
                _local(row.visit.checked_out_at),
                _local(row.retained[0]) if row.minutes else "",
                _local(row.retained[1]) if row.minutes else "",
                row.code,
                row.hours,
            )
            for row in found
        ),
    )
