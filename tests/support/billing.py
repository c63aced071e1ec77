"""A month of visits already over, for the billing tests: the services plan them and resolve them; the
clock times of a past month (beyond the week a phone may send late) are written as the clock left them."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from pypdf import PdfReader
from pypdf.generic import DictionaryObject
from sqlalchemy import Engine

from node.core import db
from node.settings import Settings
from node.telemanagement import invoices, validation, visits
from node.telemanagement.billing_models import Invoice
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import ClockEvent, Visit
from tests.support.telemanagement import CATEGORY, Setup, care_setup


def last_month() -> str:
    first = date.today().replace(day=1) - timedelta(days=1)
    return first.strftime("%Y-%m")


def at(month: str, day: int, hour: int, minute: int = 0) -> datetime:
    """A Paris wall-clock time of ``month``, as aware UTC."""
    return datetime.fromisoformat(f"{month}-{day:02d}T{hour:02d}:{minute:02d}").replace(tzinfo=visits.PARIS)


def plan(engine: Engine, setup: Setup, start: datetime, minutes: int = 60) -> int:
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=start.astimezone(visits.PARIS).strftime("%Y-%m-%dT%H:%M"),
            minutes=minutes,
            provider="aline",
        )
        return visit.id or 0


def clocked(engine: Engine, setup: Setup, visit_id: int, start: datetime, end: datetime | None) -> None:
    with db.session_scope(engine) as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None
        visit.checked_in_at = start
        visit.state = VisitState.IN_PROGRESS
        s.add(ClockEvent(visit_id=visit_id, kind="in", at=start, method="qr", provider_id=setup.provider.id))
        if end is not None:
            visit.checked_out_at = end
            visit.state = VisitState.DONE
            s.add(
                ClockEvent(visit_id=visit_id, kind="out", at=end, method="qr", provider_id=setup.provider.id)
            )
        s.add(visit)


@dataclass(frozen=True)
class Month:
    setup: Setup
    month: str
    on_time: int  # 2 h clocked as planned
    late: int  # 1 h planned, checked in 40 min late, out 1 h later
    unclocked: int  # 1 h 30 planned, never clocked
    no_check_out: int  # 1 h planned, checked in, never out


def past_month(engine: Engine, settings: Settings) -> Month:
    setup = care_setup(engine, settings, valid_from=date.today() - timedelta(days=70))
    month = last_month()
    on_time = plan(engine, setup, at(month, 3, 9), 120)
    clocked(engine, setup, on_time, at(month, 3, 9), at(month, 3, 11))
    late = plan(engine, setup, at(month, 4, 9), 60)
    clocked(engine, setup, late, at(month, 4, 9, 40), at(month, 4, 10, 40))
    unclocked = plan(engine, setup, at(month, 5, 14), 90)
    no_check_out = plan(engine, setup, at(month, 6, 8), 60)
    clocked(engine, setup, no_check_out, at(month, 6, 8), None)
    return Month(setup, month, on_time, late, unclocked, no_check_out)


def issuer_settings(settings: Settings) -> Settings:
    """The node's settings with an issuer declared for services à la personne."""
    return replace(
        settings,
        telemanagement_issuer_name="Coop Aide 93",
        telemanagement_issuer_address="3 place de la Mairie, 93100 Montreuil",
        telemanagement_issuer_siret="12345678900017",
        telemanagement_sap_declaration="SAP123456789 du 2020-01-15",
    )


def resolved_month(engine: Engine, settings: Settings) -> Month:
    """:func:`past_month` with every anomaly resolved (MDT, CO2 14:00-15:30, SUP), not yet validated."""
    month = past_month(engine, settings)
    setup = month.setup
    day = month.month
    with db.session_scope(engine) as s:
        validation.resolve(s, settings, setup.coordinator, month.late, "MDT")
        validation.resolve(
            s, settings, setup.coordinator, month.unclocked, "CO2",
            retained_start=f"{day}-05T14:00", retained_end=f"{day}-05T15:30",
        )  # fmt: skip
        validation.resolve(s, settings, setup.coordinator, month.no_check_out, "SUP")
    return month


def issued_month(engine: Engine, settings: Settings) -> tuple[Month, dict[str, Invoice]]:
    """:func:`resolved_month` validated and its invoices issued, by recipient (detached rows)."""
    month = resolved_month(engine, settings)
    setup = month.setup
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, setup.coordinator, setup.funder_id, month.month)
        made = invoices.issue(s, settings, setup.coordinator, setup.funder_id, month.month)
        for row in made:
            s.expunge(row)
    return month, {row.recipient: row for row in made}


def font_names(pdf: bytes) -> set[str]:
    """The names of the fonts a PDF's pages use, without their subset prefix ("ABCDEF+")."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = page["/Resources"].get_object()
        assert isinstance(resources, DictionaryObject)
        used = resources["/Font"].get_object()
        assert isinstance(used, DictionaryObject)
        for font in used.values():
            font = font.get_object()
            assert isinstance(font, DictionaryObject)
            names.add(str(font["/BaseFont"]).lstrip("/").split("+")[-1])
    return names
