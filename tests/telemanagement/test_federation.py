"""Visits across nodes, in-process: the EconomicEvent a provider's node sends for a check-in or out (no
health detail, address, door code or name in it; read back the same), and the holder's node recording
it in its clock log once, refusing what is not the assigned provider's, not from their node, not about
one of its visits, or made with another home's code."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from node.core import db
from node.core.errors import PermissionDenied, ValidationFailed
from node.settings import Settings
from node.telemanagement import clocking, clocklog, federation, given, plans, visits
from node.telemanagement.models import ClockEvent, Visit
from node.telemanagement.tables import ClockLogEntry
from tests.support.telemanagement import CATEGORY, Setup, care_setup

BOB = "https://bagnolet.test/users/bob"


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))


def _remote_visit(engine: Engine, settings: Settings, setup: Setup, actor: str = BOB) -> int:
    start = (datetime.now(UTC) - timedelta(minutes=30)).astimezone(visits.PARIS).replace(tzinfo=None)
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=start.isoformat(timespec="minutes"),
            minutes=60,
        )
        given.give_to_remote(s, settings, setup.coordinator, visit.id or 0, actor)
        return visit.id or 0


def _clock(
    settings: Settings, engine: Engine, setup: Setup, visit_id: int, kind: str = "in", n: int = 1
) -> federation.VisitClock:
    with db.session_scope(engine) as s:
        token = clocking.home_token(settings, plans.beneficiary(s, setup.beneficiary_id))
    return federation.VisitClock(
        id=f"https://bagnolet.test/telemanagement/clock-events/{n}",
        provider=BOB,
        receiver=settings.url("/actor"),
        fulfills=federation.visit_uri(settings, visit_id),
        kind=kind,
        at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=25 - 20 * (kind == "out")),
        method="qr",
        token=token,
        offline=kind == "out",
    )


def test_the_event_carries_nothing_private_and_reads_back(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    visit_id = _remote_visit(engine, settings, setup)
    clock = _clock(settings, engine, setup, visit_id)
    activity = federation.create_json(clock)
    text = json.dumps(activity, ensure_ascii=False)
    for private in (
        "12 rue de Paris",
        "4812B",
        "GIR 3",
        "diabète",
        "Mme Martin",
        "Montreuil",
        "APA-0042",
        "CD 93",
    ):
        assert private not in text
    assert (
        activity["type"] == "Create" and activity["to"] == [settings.url("/actor")] and "cc" not in activity
    )
    event = activity["object"]
    assert set(event) <= set(federation.FIELDS)
    assert (event["type"], event["action"], event["finished"], event["clockKind"]) == (
        "EconomicEvent",
        "deliverService",
        False,
        "in",
    )
    assert federation.clock_from_json(json.loads(text)["object"]) == clock
    manual = dataclasses.replace(clock, method="manual", token="", manual_reason="qr_damaged")
    assert "homeToken" not in federation.event_json(manual)
    assert federation.clock_from_json(federation.event_json(manual)) == manual


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"clockKind": "maybe"}, "clockKind"),
        ({"hasPointInTime": "hier"}, "hasPointInTime"),
        ({"hasPointInTime": "2026-12-07T10:00:00"}, "offset"),
        ({"homeToken": None}, "homeToken"),
        ({"action": "transfer"}, "service delivery"),
        ({"recordedOffline": "yes"}, "recordedOffline"),
    ],
)
def test_unreadable_events_are_refused(
    engine: Engine, settings: Settings, setup: Setup, change: dict[str, object], why: str
) -> None:
    event = federation.event_json(_clock(settings, engine, setup, 1))
    event.update(change)
    with pytest.raises(federation.Refused, match=why):
        federation.clock_from_json({k: v for k, v in event.items() if v is not None})


def test_the_holder_chains_the_remote_clock_once(engine: Engine, settings: Settings, setup: Setup) -> None:
    visit_id = _remote_visit(engine, settings, setup)
    check_in = _clock(settings, engine, setup, visit_id)
    with db.session_scope(engine) as s:
        link = federation.receive(s, settings, check_in, BOB)
        assert link is not None and (link.origin, link.kind, link.provider_id) == (check_in.id, "in", None)
    with db.session_scope(engine) as s:  # delivered again
        assert federation.receive(s, settings, check_in, BOB) is None
    check_out = _clock(settings, engine, setup, visit_id, "out", 2)
    with db.session_scope(engine) as s:
        link = federation.receive(s, settings, check_out, BOB)
        assert link is not None and link.offline
    with db.session_scope(engine) as s:
        visit = s.get(Visit, visit_id)
        assert visit is not None and visit.state == "done"
        assert (visit.checked_in_at, visit.checked_out_at) == (check_in.at, check_out.at)
        assert len(s.exec(select(ClockEvent)).all()) == 2
        assert clocklog.verify(s) == clocklog.Verification(2)


def test_what_the_holder_refuses(engine: Engine, settings: Settings, setup: Setup) -> None:
    visit_id = _remote_visit(engine, settings, setup)
    clock = _clock(settings, engine, setup, visit_id)
    other_visit = _remote_visit(engine, settings, setup, "https://elsewhere.test/users/eve")
    refusals: list[tuple[federation.VisitClock, str]] = [
        (clock, "https://bagnolet.test/users/carol"),  # signed by someone else
        (dataclasses.replace(clock, id="https://evil.test/events/1"), BOB),  # minted on another node
        (dataclasses.replace(clock, fulfills="https://other.test/telemanagement/visits/1"), BOB),
        (dataclasses.replace(clock, fulfills=federation.visit_uri(settings, other_visit)), BOB),  # not Bob's
        (dataclasses.replace(clock, fulfills=settings.url("/telemanagement/visits/x")), BOB),
    ]
    for event, signer in refusals:
        with pytest.raises(federation.Refused), db.session_scope(engine) as s:
            federation.receive(s, settings, dataclasses.replace(event, provider=event.provider), signer)
    forged = dataclasses.replace(clock, token=clock.token[:-2] + "AA")
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        federation.receive(s, settings, forged, BOB)
    with pytest.raises(ValidationFailed), db.session_scope(engine) as s:
        federation.receive(s, settings, dataclasses.replace(clock, at=clock.at - timedelta(days=9)), BOB)
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        given.give_to_remote(s, settings, setup.provider, visit_id, BOB)
    with db.session_scope(engine) as s:
        assert s.exec(select(ClockLogEntry)).all() == [] and s.exec(select(ClockEvent)).all() == []
