"""The Factur-X part of an invoice: a Cross Industry Invoice (CII, UN/CEFACT D16B) of profile BASIC,
built from an invoice's frozen content and embedded in its PDF with the ``factur-x`` library, which
checks it against the profile's XSD before embedding. The tests run the profile's official Schematron
on every kind of document (:mod:`node.telemanagement.schematron`): none breaks a rule.

BASIC rather than MINIMUM: MINIMUM carries totals only, while the funder (a Conseil départemental
under EN 16931 through Chorus) checks the visits billed, one line each. The amounts carry no VAT
(category ``E``, "TVA non applicable"): an assumption documented in docs/telemanagement.md, true of
an association or a provider under the VAT franchise, not of a VAT-registered company.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import facturx
from lxml import etree

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
PROFILE = "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
EXEMPTION = "TVA non applicable"
NAMESPACES = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}


def _euros(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


class _Builder:
    def __init__(self) -> None:
        self.root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NAMESPACES)

    def add(self, parent: Any, path: str, text: str | None = None, **attrs: str) -> Any:
        node = parent
        for part in path.split("/"):
            prefix, name = part.split(":")
            node = etree.SubElement(node, f"{{{NAMESPACES[prefix]}}}{name}")
        if text is not None:
            node.text = text
        for key, value in attrs.items():
            node.set(key, value)
        return node


def _date(parent: Any, b: _Builder, path: str, iso: str) -> None:
    b.add(parent, path + "/udt:DateTimeString", iso.replace("-", ""), format="102")


def _tax(b: _Builder, parent: Any) -> None:
    b.add(parent, "ram:TypeCode", "VAT")
    b.add(parent, "ram:CategoryCode", "E")
    b.add(parent, "ram:RateApplicablePercent", "0")


def _address(b: _Builder, party: Any, line: str | None) -> None:
    """The postal address of ``party`` (BG-5, BG-8, BG-15): its line when known, in France."""
    address = b.add(party, "ram:PostalTradeAddress")
    if line:
        b.add(address, "ram:LineOne", line)
    b.add(address, "ram:CountryID", "FR")


def cii_xml(content: dict[str, Any]) -> bytes:
    """The invoice's CII XML (profile BASIC) from its frozen content (:mod:`node.telemanagement.invoices`)."""
    b = _Builder()
    root = b.root
    b.add(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", PROFILE)
    document = b.add(root, "rsm:ExchangedDocument")
    b.add(document, "ram:ID", content["number"])
    b.add(document, "ram:TypeCode", content.get("type_code", "380"))
    _date(document, b, "ram:IssueDateTime", content["issued_on"])
    for mention in content["mentions"]:
        b.add(document, "ram:IncludedNote/ram:Content", mention)
    transaction = b.add(root, "rsm:SupplyChainTradeTransaction")
    for index, line in enumerate(content["lines"], start=1):
        item = b.add(transaction, "ram:IncludedSupplyChainTradeLineItem")
        b.add(item, "ram:AssociatedDocumentLineDocument/ram:LineID", str(index))
        b.add(
            item,
            "ram:SpecifiedTradeProduct/ram:Name",
            f"{line['activity']} {line['day']} {line['start']}-{line['end']}",
        )
        b.add(
            item,
            "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
            _euros(line.get("price_cents", content["hourly_rate_cents"])),
        )
        if "quantity" in line:  # a credit note's single line: one unit at its amount
            b.add(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", line["quantity"], unitCode="C62")
        else:
            hours = (Decimal(line["minutes"]) / 60).quantize(Decimal("0.0001"))
            b.add(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", str(hours), unitCode="HUR")
        settlement = b.add(item, "ram:SpecifiedLineTradeSettlement")
        _tax(b, b.add(settlement, "ram:ApplicableTradeTax"))
        b.add(
            settlement,
            "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
            _euros(line["amount_cents"]),
        )
    agreement = b.add(transaction, "ram:ApplicableHeaderTradeAgreement")
    b.add(agreement, "ram:BuyerReference", content["folder_number"])
    issuer = content["issuer"]
    seller = b.add(agreement, "ram:SellerTradeParty")
    b.add(seller, "ram:Name", issuer["name"])
    if issuer["siren"]:
        b.add(seller, "ram:SpecifiedLegalOrganization/ram:ID", issuer["siren"], schemeID="0002")
    _address(b, seller, issuer["address"])
    if issuer["siret"]:  # BT-32: no VAT number, so the tax registration that category E requires
        b.add(seller, "ram:SpecifiedTaxRegistration/ram:ID", issuer["siret"], schemeID="FC")
    client = content["client"]
    buyer = b.add(agreement, "ram:BuyerTradeParty")
    b.add(buyer, "ram:Name", client["name"])
    _address(b, buyer, client["address"])
    delivery = b.add(transaction, "ram:ApplicableHeaderTradeDelivery")  # BG-13: at the beneficiary's home
    home = content["beneficiary"]
    ship_to = b.add(delivery, "ram:ShipToTradeParty")
    b.add(ship_to, "ram:Name", home["name"])
    _address(b, ship_to, home["address"])
    settlement = b.add(transaction, "ram:ApplicableHeaderTradeSettlement")
    b.add(settlement, "ram:InvoiceCurrencyCode", "EUR")
    tax = b.add(settlement, "ram:ApplicableTradeTax")
    b.add(tax, "ram:CalculatedAmount", "0.00")
    b.add(tax, "ram:TypeCode", "VAT")
    b.add(tax, "ram:ExemptionReason", EXEMPTION)
    b.add(tax, "ram:BasisAmount", _euros(content["total_cents"]))
    b.add(tax, "ram:CategoryCode", "E")
    b.add(tax, "ram:RateApplicablePercent", "0")
    period = b.add(settlement, "ram:BillingSpecifiedPeriod")
    _date(period, b, "ram:StartDateTime", content["period"][0])
    _date(period, b, "ram:EndDateTime", content["period"][1])
    allowance = content["allowance_cents"]
    if allowance:
        charge = b.add(settlement, "ram:SpecifiedTradeAllowanceCharge")
        b.add(charge, "ram:ChargeIndicator/udt:Indicator", "false")
        b.add(charge, "ram:ActualAmount", _euros(allowance))
        b.add(charge, "ram:Reason", content["allowance_reason"])
        _tax(b, b.add(charge, "ram:CategoryTradeTax"))
    sums = b.add(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    b.add(sums, "ram:LineTotalAmount", _euros(content["amount_cents"]))
    if allowance:
        b.add(sums, "ram:AllowanceTotalAmount", _euros(allowance))
    b.add(sums, "ram:TaxBasisTotalAmount", _euros(content["total_cents"]))
    b.add(sums, "ram:TaxTotalAmount", "0.00", currencyID="EUR")
    b.add(sums, "ram:GrandTotalAmount", _euros(content["total_cents"]))
    b.add(sums, "ram:DuePayableAmount", _euros(content["total_cents"]))
    if "corrects" in content:  # a credit note (381) names the invoice it corrects
        referenced = b.add(settlement, "ram:InvoiceReferencedDocument")
        b.add(referenced, "ram:IssuerAssignedID", content["corrects"])
        b.add(
            referenced,
            "ram:FormattedIssueDateTime/qdt:DateTimeString",
            content["corrects_issued_on"].replace("-", ""),
            format="102",
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def check(xml: bytes) -> None:
    """Raise when ``xml`` does not validate against the Factur-X XSD of its profile."""
    facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")


def embed(pdf: bytes, xml: bytes, title: str) -> bytes:
    """The PDF with the XML attached as ``factur-x.xml`` (checked against the XSD first)."""
    return bytes(
        facturx.generate_from_binary(
            pdf,
            xml,
            flavor="factur-x",
            level="basic",
            check_xsd=True,
            pdf_metadata={"author": "", "keywords": "Factur-X", "title": title, "subject": title},
            lang="fr-FR",
        )
    )


def xml_of(pdf: bytes) -> bytes:
    """The Factur-X XML attached to a PDF."""
    _name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    return bytes(xml)
