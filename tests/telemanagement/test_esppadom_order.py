"""The ESPPADOM ORDER export of a funder's plans in force in a month validates against the schema kept
in the repository and carries the plan's folder number, hours, rate and participation; its CSV has
the same lines; a month before the plan has none."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from lxml import etree
from sqlalchemy import Engine

from node.core import db
from node.core.errors import Conflict
from node.settings import Settings
from node.telemanagement import esppadom, esppadom_order
from tests.support.billing import issuer_settings, last_month
from tests.support.telemanagement import care_setup

Q = {"ns": esppadom_order.NS, "ram": esppadom.RAM, "pie": esppadom.PIE, "qdt": esppadom.QDT}


def test_the_order_export_of_a_month(engine: Engine, settings: Settings) -> None:
    settings = issuer_settings(settings)
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=70))
    month = last_month()
    with db.session_scope(engine) as s:
        xml = esppadom_order.order_xml(s, settings, setup.funder_id, month)
        text = esppadom_order.order_csv(s, settings, setup.funder_id, month)
    tree = etree.fromstring(xml)
    esppadom_order.schema().assertValid(tree)
    (message,) = tree.findall("ns:CrossIndustryOrder", Q)
    assert message.findtext("ns:CIOHExchangedDocument/ram:ID", None, Q) == "APA-0042"
    assert message.findtext(".//ram:BuyerCITradeParty/pie:Name", None, Q) == "CD 93"
    assert message.findtext(".//ram:SellerCITradeParty/pie:SIRET", None, Q) == "12345678900017"
    assert message.findtext(".//ram:BeneficiaryParticipationPercent", None, Q) == "10.00"
    assert message.find(".//ram:RequestedDeliveryCISpecifiedPeriod/ram:EndDate", Q) is None  # open plan
    (line,) = message.findall(".//ram:IncludedCIOLSupplyChainTradeLineItem", Q)
    assert line.findtext(".//ram:RequestedQuantity", None, Q) == "20.00"
    assert line.findtext(".//ram:ChargeAmount", None, Q) == "24.58"
    assert line.findtext(".//qdt:ID", None, Q) == "APA"
    assert line.findtext(".//qdt:Name", None, Q) == "housework"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == esppadom_order.CSV_COLUMNS
    assert [
        (r["folder_number"], r["activity"], r["hours_per_month"], r["participation_percent"]) for r in rows
    ] == [("APA-0042", "housework", "20.00", "10.00")]
    broken = etree.fromstring(xml.replace(b">MONTH<", b">WEEKLY<"))
    assert not esppadom_order.schema().validate(broken)
    with pytest.raises(Conflict, match="No plan of this funder"), db.session_scope(engine) as s:
        esppadom_order.order_xml(s, settings, setup.funder_id, "2001-01")
