"""A person's account export holds their telemanagement data: as a beneficiary their file, visits and
invoices; as a provider the visits assigned to them and their clock events, the homes by commune only."""

from __future__ import annotations

from sqlalchemy import Engine

from node.accounts.gdpr import export_account
from node.core import db
from node.settings import Settings
from node.telemanagement import export, invoices, validation
from node.telemanagement.models import Beneficiary
from tests.support.accounts import make_user
from tests.support.billing import resolved_month


def test_the_account_export_holds_visits_and_invoices(engine: Engine, settings: Settings) -> None:
    month = resolved_month(engine, settings)
    setup = month.setup
    martin = make_user(engine, "martin")
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        home = s.get(Beneficiary, setup.beneficiary_id)
        assert home is not None
        home.user_id = martin.id
        s.add(home)
    exporter = export.sections_for(settings)
    with db.session_scope(engine) as s:
        mine = export_account(martin, session=s, node_url="http://testserver", exporters=[exporter])
        theirs = export_account(setup.provider, session=s, node_url="http://testserver", exporters=[exporter])
    [file] = mine["telemanagement"]["as_beneficiary"]
    assert file["address"] == "12 rue de Paris" and file["door_code"] == "4812B"
    assert len(file["visits"]) == 4
    assert [(row["month"], row["total_cents"]) for row in file["invoices"]] == [(month.month, 1106)]
    assert mine["telemanagement"]["as_provider"] == {"visits": [], "clock_events": []}
    provider = theirs["telemanagement"]
    assert provider["as_beneficiary"] == []
    assert len(provider["as_provider"]["visits"]) == 4
    assert {row["commune"] for row in provider["as_provider"]["visits"]} == {"Montreuil"}
    assert len(provider["as_provider"]["clock_events"]) == 5
    assert "Martin" not in str(provider) and "rue de Paris" not in str(provider)
