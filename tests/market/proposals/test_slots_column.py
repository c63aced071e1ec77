"""A proposal's ``slots`` column (the parts of the days of the week its schedule meets, as a bit mask) is
written wherever its schedule is: on creation and change through the service, and when another node
sends it; and the database, on both backends, finds with it the proposals the schedule itself fits."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.core.timeutil import isoformat, utcnow
from node.market import schedule as schedules
from node.market.availability import PARTS, fits, mask, schedule_mask, slot
from node.market.models import Proposal
from node.market.proposals import federation as proposal_federation
from node.market.proposals import service as proposals
from node.market.vocab import proposal_from_json
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.market import PROPOSAL_FORM, proposal_document
from tests.support.search import indexed

B = "https://b.example"


def stored_slots(session: Session, proposal_id: int | None) -> int | None:
    """The column as the database holds it (not the object the session keeps)."""
    session.expire_all()
    return session.exec(select(Proposal.slots).where(col(Proposal.id) == proposal_id)).one()


def ironing(**changes: Any) -> proposals.ProposalInput:
    """The ironing offer in Montreuil of the proposal form, with ``changes``."""
    return proposals.ProposalInput(**{**PROPOSAL_FORM, **changes})


def test_the_service_writes_the_mask_and_keeps_it_with_the_schedule(
    engine: Engine, session: Session, settings: Settings
) -> None:
    alice = make_user(engine, "alice")
    first = (utcnow() + timedelta(days=1)).date()
    nights = ironing(  # Friday nights, 22:00 to 06:00: the evening and the morning of Friday
        schedule_kind="weekly",
        weekdays=["FR"],
        start_time="22:00",
        end_time="06:00",
        first_day=first.isoformat(),
        last_day=(first + timedelta(days=30)).isoformat(),
    )
    row = proposals.create(settings, alice, nights, session=session)
    session.commit()
    friday = (1 << slot(4, "morning")) | (1 << slot(4, "evening"))
    assert stored_slots(session, row.id) == friday == schedule_mask(row.schedule)

    data = proposals.input_of(row)
    data.weekdays, data.start_time, data.end_time = ["SA"], "09:00", "13:00"
    proposals.update(settings, alice, row, data, session=session)
    session.commit()
    assert stored_slots(session, row.id) == (1 << slot(5, "morning")) | (1 << slot(5, "afternoon"))

    data = proposals.input_of(row)
    data.schedule_kind = "none"
    proposals.update(settings, alice, row, data, session=session)
    session.commit()
    assert row.schedule is None and stored_slots(session, row.id) is None

    untimed = proposals.create(settings, alice, ironing(title="Repassage à convenir"), session=session)
    session.commit()
    assert stored_slots(session, untimed.id) is None


def test_a_proposal_from_another_node_gets_its_mask(session: Session, settings: Settings) -> None:
    bob = B + "/users/bob"
    pid = B + "/proposals/1"
    doc = proposal_from_json(proposal_document(bob, pid))
    proposal_federation.store_remote(settings, doc, signer=bob, session=session)
    session.commit()
    row = session.exec(select(Proposal).where(col(Proposal.ap_id) == pid)).one()
    assert row.schedule is None and stored_slots(session, row.id) is None

    # Tuesday 23:00 to Wednesday 01:00 in Paris: an evening and the next morning
    night = schedules.TimeWindow(datetime(2030, 1, 8, 22, tzinfo=UTC), datetime(2030, 1, 9, 0, tzinfo=UTC))
    changed = proposal_document(bob, pid, updated=isoformat(utcnow()), **schedules.to_json(night))
    proposal_federation.store_remote(settings, proposal_from_json(changed), signer=bob, session=session)
    session.commit()
    assert stored_slots(session, row.id) == (1 << slot(1, "evening")) | (1 << slot(2, "morning"))


def test_the_database_finds_what_the_schedule_fits(session: Session, settings: Settings) -> None:
    today = utcnow().date()
    schedules_by_title: dict[str, schedules.Schedule | None] = {
        "nuits": schedules.WeeklyRecurrence((4,), time(22), time(6), today, today + timedelta(days=90)),
        "samedi": schedules.TimeWindow(
            datetime(2030, 1, 5, 16, tzinfo=UTC), datetime(2030, 1, 5, 18, 30, tzinfo=UTC)
        ),
        "semaine": schedules.TimeWindow(
            datetime(2030, 1, 7, 8, tzinfo=UTC), datetime(2030, 1, 9, 14, tzinfo=UTC)
        ),
        "à convenir": None,
    }
    rows = {
        title: indexed(session, settings, title, schedule=schedule)
        for title, schedule in schedules_by_title.items()
    }
    for weekday in (None, *range(7)):
        for part in (None, *PARTS):
            asked = mask(weekday, part)
            if asked is None:
                continue
            found = session.exec(select(Proposal.title).where(col(Proposal.slots).op("&")(asked) != 0)).all()
            expected = [title for title, row in rows.items() if fits(row.schedule, weekday, part)]
            assert sorted(found) == sorted(expected), (weekday, part)
