"""Resolving anomalies with ESPPADOM adjustment codes, then validating and locking a funder's month."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from node.core import db
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import adjustments, checks, clocking, given, validation
from tests.support.billing import Month, at, past_month, plan
from tests.support.telemanagement import CATEGORY


@pytest.fixture
def month(engine: Engine, settings: Settings) -> Month:
    return past_month(engine, settings)


def test_codes_fit_what_was_clocked() -> None:
    def codes(checked_in: bool, checked_out: bool) -> list[str]:
        return [code.code for code in adjustments.applicable(checked_in, checked_out)]

    assert codes(True, True) == ["MDT", "SUP"]
    assert codes(True, False) == ["SUP", "COD"]
    assert codes(False, False) == ["CRE", "SUP", "CO2"]
    assert codes(False, True) == ["SUP", "COA"]


def test_open_anomalies_block_the_month_until_each_is_resolved(
    engine: Engine, settings: Settings, month: Month
) -> None:
    setup = month.setup
    with db.session_scope(engine) as s:
        found = {
            row.visit.id: row for row in validation.open_anomalies(s, settings, setup.funder_id, month.month)
        }
        assert set(found) == {month.late, month.unclocked, month.no_check_out}
        assert found[month.late].kinds == ["late", "outside_slot"]
        assert found[month.unclocked].codes == ["CRE", "SUP", "CO2"]
    with pytest.raises(Conflict, match="still have an anomaly"), db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)

    with pytest.raises(ValidationFailed, match="fits what was clocked"), db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.coordinator, month.late, "COD", retained_end="x")
    with pytest.raises(ValidationFailed, match="no anomaly"), db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.coordinator, month.on_time, "MDT")
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.provider, month.late, "MDT")
    day = month.month + "-05T"
    with pytest.raises(ValidationFailed, match="retained start"), db.session_scope(engine) as s:
        validation.resolve(
            s, settings, setup.coordinator, month.unclocked, "CO2",
            retained_start=day + "15:00", retained_end=day + "14:00",
        )  # fmt: skip
    with db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.coordinator, month.late, "MDT", note="bus strike")
        validation.resolve(
            s, settings, setup.coordinator, month.unclocked, "CO2",
            retained_start=day + "14:00", retained_end=day + "15:30",
        )  # fmt: skip
        validation.resolve(
            s, settings, setup.coordinator, month.no_check_out, "COD",
            retained_start=month.month + "-06T08:00", retained_end=month.month + "-06T08:45",
        )  # fmt: skip
    with pytest.raises(Conflict, match="already resolved"), db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.coordinator, month.late, "SUP")

    with pytest.raises(ValidationFailed, match="once it is over"), db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, checks.current_month())
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        billed = {row.visit.id: (row.minutes, row.code) for row in validation.funder_billable(
            s, setup.funder_id, month.month
        )}  # fmt: skip
    assert billed == {
        month.on_time: (120, ""),
        month.late: (60, "MDT"),
        month.unclocked: (90, "CO2"),
        month.no_check_out: (45, "COD"),
    }
    with pytest.raises(Conflict, match="already validated"), db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)


def test_a_validated_month_is_locked(engine: Engine, settings: Settings, month: Month) -> None:
    setup = month.setup
    with db.session_scope(engine) as s:
        for visit_id in (month.late, month.unclocked, month.no_check_out):
            validation.resolve(s, settings, setup.coordinator, visit_id, "SUP")
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
    extra = None
    with pytest.raises(Conflict, match="validated for this funder and locked"):
        extra = plan(engine, setup, at(month.month, 20, 10))
    assert extra is None
    with pytest.raises(Conflict, match="locked"), db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, month.unclocked, "")
    with pytest.raises(Conflict, match="locked"), db.session_scope(engine) as s:
        given.cancel(s, settings, setup.coordinator, month.unclocked, "beneficiary_absent")
    with pytest.raises(Conflict, match="locked"), db.session_scope(engine) as s:
        clocking.clock(s, settings, setup.provider, month.no_check_out, "out", manual_reason="other")
    with pytest.raises(Conflict, match="locked"), db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.coordinator, month.late, "MDT")
    with db.session_scope(engine) as s:
        assert [row.minutes for row in validation.funder_billable(s, setup.funder_id, month.month)] == [120]
    assert CATEGORY
