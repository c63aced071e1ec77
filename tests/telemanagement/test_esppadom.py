"""The ESPPADOM DELIVERY export of a validated month validates against the schema kept in the
repository, carries the adjustment codes and retained periods, and its CSV has the same rows."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import etree
from sqlalchemy import Engine

from node.core import db
from node.core.errors import Conflict
from node.settings import Settings
from node.telemanagement import esppadom, validation
from tests.support.billing import issuer_settings, resolved_month

Q = {"ns": esppadom.NS, "ram": esppadom.RAM, "pie": esppadom.PIE, "qdt": esppadom.QDT}


def test_the_delivery_export_of_a_validated_month(engine: Engine, settings: Settings) -> None:
    settings = issuer_settings(settings)
    month = resolved_month(engine, settings)
    setup = month.setup
    with pytest.raises(Conflict, match="Validate the month"), db.session_scope(engine) as s:
        esppadom.delivery_xml(s, settings, setup.funder_id, month.month)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        xml = esppadom.delivery_xml(s, settings, setup.funder_id, month.month)
        text = esppadom.delivery_csv(s, settings, setup.funder_id, month.month)
    tree = etree.fromstring(xml)
    esppadom.schema().assertValid(tree)
    messages = tree.findall("ns:CrossIndustryDespatchAdvice", Q)
    assert len(messages) == 4
    codes = [m.findtext(".//ram:ActualDespatchCISupplyChainEvent/ram:TypeCode", None, Q) for m in messages]
    assert codes == [None, "MDT", "CO2", "SUP"]
    hours = [m.findtext(".//ram:BilledQuantity", None, Q) for m in messages]
    assert hours == ["2.00", "1.00", "1.50", "0.00"]
    certified = [m.find(".//ram:EffectiveCISpecifiedPeriod", Q) is not None for m in messages]
    assert certified == [True, True, False, False]  # the last was never checked out
    first = messages[2]
    assert first.findtext(".//ram:OrderLineID", None, Q) == "APA-0042"
    assert first.findtext(".//qdt:ID", None, Q) == "APA"
    start = first.findtext(".//ram:OccurrenceCISpecifiedPeriod/qdt:StartDateTime", None, Q)
    assert start is not None and start.startswith(f"{month.month}-05T14:00:00+0")
    assert first.findtext(".//ram:ShipFromCITradeParty/pie:SIRET", None, Q) == "12345678900017"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == esppadom.CSV_COLUMNS
    assert [(row["adjustment_code"], row["billed_hours"]) for row in rows] == [
        ("", "2.00"),
        ("MDT", "1.00"),
        ("CO2", "1.50"),
        ("SUP", "0.00"),
    ]


def test_the_schema_refuses_an_unknown_adjustment_code(engine: Engine, settings: Settings) -> None:
    month = resolved_month(engine, settings)
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, month.setup.coordinator, month.setup.funder_id, month.month)
        xml = esppadom.delivery_xml(s, settings, month.setup.funder_id, month.month)
    broken = etree.fromstring(xml.replace(b">CO2<", b">XYZ<"))
    assert not esppadom.schema().validate(broken)
    assert "XYZ" in str(esppadom.schema().error_log)
