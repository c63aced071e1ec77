"""A funder's monthly statement: clocked hours at the plan's rate, the beneficiary's share rounded
once, the funder's share the rest; cancelled visits count nowhere."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from node.core import db
from node.core.errors import NotFound, ValidationFailed
from node.settings import Settings
from node.telemanagement import clocking, given, statements, visits
from tests.support.telemanagement import CATEGORY, care_setup


def test_the_statement_counts_clocked_hours_at_the_plans_rate(engine: Engine, settings: Settings) -> None:
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=60))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    local = start.astimezone(visits.PARIS)
    with db.session_scope(engine) as s:
        done = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=local.strftime("%Y-%m-%dT%H:%M"),
            minutes=150,
            provider="aline",
        )
        dropped = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=local.strftime("%Y-%m-%dT%H:%M"),
            minutes=60,
            provider="aline",
        )
        given.cancel(s, settings, setup.coordinator, dropped.id or 0, "beneficiary_absent")
        clocking.clock(s, settings, setup.provider, done.id or 0, "in", manual_reason="qr_missing", at=start)
        clocking.clock(
            s,
            settings,
            setup.provider,
            done.id or 0,
            "out",
            manual_reason="qr_missing",
            at=start + timedelta(hours=2),
        )
    month = local.strftime("%Y-%m")
    with db.session_scope(engine) as s:
        text = statements.statement_csv(s, setup.funder_id, month)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == statements.COLUMNS
    assert rows == [
        {
            "month": month,
            "funder": "CD 93",
            "funder_reference": "CD93-7",
            "folder_number": "APA-0042",
            "beneficiary": "Mme Martin",
            "activity": CATEGORY,
            "granted_hours": "20.00",
            "planned_hours": "2.50",
            "done_hours": "2.00",
            "hourly_rate_eur": "24.58",
            "amount_eur": "49.16",
            "beneficiary_share_eur": "4.92",
            "funder_share_eur": "44.24",
            "adjusted_hours": "2.00",
        }
    ]
    with pytest.raises(NotFound), db.session_scope(engine) as s:
        statements.statement(s, setup.funder_id + 1, month)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        statements.statement(s, setup.funder_id, "2026-13")
