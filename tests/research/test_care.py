"""Telemanagement indicators: planned and done hours, anomalies per 100 visits and punctuality, on
hand-built visits with known answers, protected like every figure (k providers and k beneficiaries), and
read from a real database without a name, an address or a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from node.core.db import session_scope
from node.research import figures
from node.research.care import care
from node.research.cellkey import MAX_CHANGE
from node.research.cells import TOTAL, RawCell, protect
from node.research.records import VisitRecord
from node.settings import Settings
from node.telemanagement.models import Beneficiary, CarePlan, Funder, Visit
from tests.support.accounts import make_user

NOV = datetime(2026, 11, 3, 8, tzinfo=UTC)
NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)


def visit(i: int, providers: int = 6, **changes: object) -> VisitRecord:
    fields: dict[str, object] = {
        "provider": f"https://n.example/users/aide{i % providers}",
        "beneficiary": f"beneficiary:{i}",
        "starts_at": NOV + timedelta(days=i),
        "planned_minutes": 120,
        "done_minutes": 90,
        "checked_in": True,
        "past": True,
        "anomalies": (),
    }
    fields.update(changes)
    return VisitRecord(**fields)  # type: ignore[arg-type]


def hand_built() -> list[VisitRecord]:
    """Six done visits of 2 h clocked 1.5 h (one late, one late and by hand), one missed, one to come."""
    visits = [visit(i) for i in range(6)]
    visits[1] = visit(1, anomalies=("late",))
    visits[2] = visit(2, anomalies=("late", "manual"))
    visits.append(visit(6, done_minutes=None, checked_in=False, anomalies=("missing_check_in",)))
    visits.append(visit(7, done_minutes=None, checked_in=False, past=False))
    return visits


def values(cells: list[RawCell]) -> dict[str, Decimal | None]:
    return {f"{c.key.indicator}:{c.key.breakdown}": c.value for c in cells}


def test_hours_anomalies_and_punctuality_on_known_visits() -> None:
    found = values(care("2026-11", hand_built()))
    assert found["care_hours:visits"] == 8
    assert found["care_hours:planned"] == 16  # eight visits of two hours
    assert found["care_hours:done"] == 9  # six clocked an hour and a half
    assert found["visit_anomalies:visits"] == 7  # the one to come is not over
    assert found["visit_anomalies:with_anomaly"] == 3
    assert found["visit_anomalies:per_100_visits"] == Decimal("57.14")  # four anomalies on seven visits
    assert found["punctuality:on_time"] == 4 and found["punctuality:late"] == 2
    assert found["punctuality:missed"] == 1 and found[f"punctuality:{TOTAL}"] == 7
    assert not care("2026-10", hand_built())[0].value  # nothing in October


def test_many_beneficiaries_do_not_hide_one_provider() -> None:
    """Eight beneficiaries but two providers: fewer than k = 3 providers, every figure withheld; with
    six providers (k = 3) they are shown, but not the late and missed visits of one or two providers."""
    few = [visit(i, providers=2) for i in range(8)]
    assert not any(c.shown for c in protect(care("2026-11", few), 3) if c.value)
    shown = {c.key.breakdown: c for c in protect(care("2026-11", hand_built()), 3)}
    assert shown["visits"].shown and shown["on_time"].shown and shown[TOTAL].shown
    assert not shown["missed"].shown  # one provider and one beneficiary
    assert not shown["late"].shown  # two providers


def seed(engine: Engine, settings: Settings, providers: int) -> list[int]:
    """One visit per provider, each for a beneficiary of their own, done in November (2 h planned,
    clocked 1.5 h); returns the providers' user ids."""
    ids = [make_user(engine, f"aide{i}").pk for i in range(providers)]
    with session_scope(engine, write=True) as session:
        funder = Funder(name="Département", kind="apa", billing="direct")
        session.add(funder)
        session.flush()
        for i, provider in enumerate(ids):
            beneficiary = Beneficiary(name=f"Personne {i}", private_sealed="sealed")
            session.add(beneficiary)
            session.flush()
            plan = CarePlan(
                beneficiary_id=beneficiary.id or 0, funder_id=funder.id or 0, folder_number=str(i)
            )
            session.add(plan)
            session.flush()
            start = NOV + timedelta(days=i)
            session.add(
                Visit(
                    plan_id=plan.id or 0,
                    category="menage",
                    starts_at=start,
                    ends_at=start + timedelta(hours=2),
                    provider_id=provider,
                    state="done",
                    checked_in_at=start,
                    checked_out_at=start + timedelta(minutes=90),
                )
            )
    return ids


def test_care_figures_from_the_database_and_an_opt_out(engine: Engine, settings: Settings) -> None:
    providers = seed(engine, settings, 6)

    def cells() -> dict[str, object]:
        with session_scope(engine) as session:
            computed = figures.compute(session, settings, ["2026-11"], now=NOW)
        return {c.key.breakdown: c for c in computed.cells if c.key.indicator == "care_hours"}

    found = cells()
    done = found["done"]
    assert done.shown and abs(done.value - Decimal(9)) <= MAX_CHANGE * Decimal("1.5")  # type: ignore[attr-defined]
    assert found["visits"].shown and abs(found["visits"].value - 6) <= MAX_CHANGE  # type: ignore[attr-defined]
    with session_scope(engine, write=True) as session:
        figures.set_opt_out(session, providers[0], True)
        figures.set_opt_out(session, providers[1], True)
    assert not cells()["visits"].shown  # type: ignore[attr-defined]  # four providers left: too few
