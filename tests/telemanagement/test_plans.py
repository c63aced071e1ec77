"""Funders, beneficiaries and care plans: what a coordinator enters, what is sealed at rest, versions
over time, and bad input refused with nothing changed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from node.accounts.models import User
from node.core import db
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import plans
from node.telemanagement.models import Beneficiary, CarePlanVersion, Funder
from tests.support.accounts import make_user
from tests.support.telemanagement import CATEGORY, care_setup


def test_private_details_are_sealed_at_rest_and_open_with_the_node_secret(
    engine: Engine, settings: Settings
) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 1, 1))
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT private_sealed FROM tm_beneficiaries")).scalar_one()
    assert stored.startswith("v1:")
    for secret in ("12 rue de Paris", "4812B", "GIR 3", "diab"):
        assert secret not in stored
    with db.session_scope(engine) as s:
        details = plans.private_details(
            s,
            settings,
            plans.beneficiary(s, setup.beneficiary_id),
            reader_id=setup.coordinator.id,
            fields="address,door_code,health",
            purpose="page",
        )
    assert (details.address, details.door_code, details.health) == (
        "12 rue de Paris",
        "4812B",
        "GIR 3, diabète",
    )


def test_a_new_version_closes_the_previous_one_the_day_before(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 1, 1))
    with db.session_scope(engine) as s:
        terms = plans.parse_terms(
            valid_from="2026-07-01",
            valid_until="2026-12-31",
            hourly_rate="25",
            participation="0",
            hours={CATEGORY: "30", "meal-preparation": "4,5"},
        )
        plans.add_version(s, setup.coordinator, setup.plan_id, terms)
    with db.session_scope(engine) as s:
        first, second = plans.versions(s, setup.plan_id)
        assert (first.number, first.valid_until) == (1, date(2026, 6, 30))
        assert (second.number, second.valid_from, second.hourly_rate_cents) == (2, date(2026, 7, 1), 2500)
        assert plans.hours_of(s, second.id or 0) == {CATEGORY: 1800, "meal-preparation": 270}
        assert plans.version_on(s, setup.plan_id, date(2026, 6, 30)) == first
        assert plans.version_on(s, setup.plan_id, date(2026, 7, 1)) == second
        assert plans.version_on(s, setup.plan_id, date(2027, 1, 1)) is None
        assert first.participation_bp == 1000 and first.hourly_rate_cents == 2458


def test_a_version_must_start_after_the_current_one(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 3, 1))
    terms = plans.parse_terms(
        valid_from="2026-03-01", valid_until="", hourly_rate="25", participation="0", hours={CATEGORY: "1"}
    )
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        plans.add_version(s, setup.coordinator, setup.plan_id, terms)
    with db.session_scope(engine) as s:
        assert len(plans.versions(s, setup.plan_id)) == 1
        assert plans.versions(s, setup.plan_id)[0].valid_until is None


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("valid_from", {"valid_from": "01/03/2026"}),
        ("valid_until", {"valid_until": "2025-01-01"}),
        ("hourly_rate", {"hourly_rate": "-3"}),
        ("hourly_rate", {"hourly_rate": "24.581"}),
        ("participation", {"participation": "120"}),
        ("hours", {"hours": {CATEGORY: "0"}}),
        ("hours", {"hours": {"not-a-category": "3"}}),
        ("hours", {"hours": {}}),
    ],
)
def test_bad_terms_name_the_field(field: str, values: dict[str, object]) -> None:
    given: dict[str, object] = {
        "valid_from": "2026-03-01",
        "valid_until": "",
        "hourly_rate": "24",
        "participation": "10",
        "hours": {CATEGORY: "3"},
        **values,
    }
    with pytest.raises(ValidationFailed) as caught:
        plans.parse_terms(**given)  # type: ignore[arg-type]
    assert field in caught.value.fields


def test_funders_and_plans_refuse_bad_input_and_members(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date(2026, 1, 1))
    member = make_user(engine, "someone")
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        plans.create_funder(s, member, name="X", kind="apa", billing="direct")
    with pytest.raises(ValidationFailed) as caught, db.session_scope(engine) as s:
        plans.create_funder(s, setup.coordinator, name="", kind="lottery", billing="cash", siret="123")
    assert set(caught.value.fields) == {"name", "kind", "billing", "siret"}
    terms = plans.parse_terms(
        valid_from="2026-01-01", valid_until="", hourly_rate="24", participation="10", hours={CATEGORY: "3"}
    )
    with pytest.raises(Conflict), db.session_scope(engine) as s:
        plans.create_plan(
            s,
            setup.coordinator,
            beneficiary_id=setup.beneficiary_id,
            funder_id=setup.funder_id,
            folder_number="APA-0042",
            terms=terms,
        )
    with db.session_scope(engine) as s:
        assert len(s.exec(select(Funder)).all()) == 1
        assert len(s.exec(select(CarePlanVersion)).all()) == 1
        assert len(s.exec(select(Beneficiary)).all()) == 1
        assert s.exec(select(User).where(User.username == "coord")).one()
