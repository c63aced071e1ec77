"""A visit given to a provider of another node is taken back from them (a ``Delete`` of the commitment
addressed to their actor, queued in the outbox) whichever way it changes hands: a coordinator gives it to
one of ours or to another remote provider, cancels it, gives it after an absence, or its beneficiary
chooses one of the applicants. No module of the code base changes a visit's provider or cancels it
without :mod:`node.telemanagement.given`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from node.accounts.models import User, UserCategory
from node.activitypub.models import Delivery, OutboxActivity
from node.core import db
from node.groups.colleagues import colleagues_of
from node.settings import Settings
from node.telemanagement import applications, federation, given, replacement, visits
from node.telemanagement.models import Beneficiary, Visit
from node.telemanagement.tables import RemoteAssignment
from tests.support.accounts import make_user
from tests.support.groups import make_group
from tests.support.telemanagement import CATEGORY, Setup, care_setup

BOB = "https://bagnolet.test/users/bob"
ZOE = "https://romainville.test/users/zoe"
NODE = Path(__file__).resolve().parents[2] / "node"


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=datetime.now(UTC).date() - timedelta(days=5))


def sent(engine: Engine) -> list[tuple[str, str, str]]:
    """What the outbox holds for remote providers: (type, the visit's address, the recipient)."""
    with db.session_scope(engine) as s:
        rows = s.exec(
            select(OutboxActivity, Delivery)
            .join(Delivery, col(Delivery.outbox_id) == col(OutboxActivity.id))
            .order_by(col(OutboxActivity.id))
        ).all()
        found = []
        for activity, delivery in rows:
            payload = json.loads(activity.payload)
            if payload["type"] in ("Offer", "Delete") and isinstance(payload.get("object"), dict):
                found.append((payload["type"], str(payload["object"]["id"]), delivery.target))
        return found


@dataclass
class Waiting:
    """A visit of Aline's, freed by her absence, then given to Bob on another node."""

    visit_id: int
    uri: str
    bea: User
    carl: User


def _provider(engine: Engine, username: str) -> User:
    user = make_user(engine, username)
    with db.session_scope(engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.provider_status = "self_employed"
        s.add(row)
        s.add(UserCategory(user_id=user.id or 0, category=CATEGORY))
    return user


@pytest.fixture
def waiting(engine: Engine, settings: Settings, setup: Setup) -> Waiting:
    bea, carl = _provider(engine, "beatrice"), _provider(engine, "carlos")
    make_group(engine, settings, setup.provider, joining=(bea, carl))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(visits.PARIS).replace(hour=10, minute=0)
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=tomorrow.replace(tzinfo=None).isoformat(timespec="minutes"),
            minutes=60,
            provider="aline",
        )
        visit_id = visit.id or 0
    day = tomorrow.date().isoformat()
    with db.session_scope(engine) as s:
        _absence, freed = replacement.declare_absence(
            s, settings, setup.provider, first_day=day, last_day=day
        )
        assert [v.id for v in freed] == [visit_id]
    with db.session_scope(engine) as s:
        given.give_to_remote(s, settings, setup.coordinator, visit_id, BOB)
    uri = federation.visit_uri(settings, visit_id)
    assert sent(engine) == [("Offer", uri, BOB)]
    return Waiting(visit_id, uri, bea, carl)


def _taken_back(engine: Engine, waiting: Waiting, provider: User) -> None:
    assert sent(engine)[1:] == [("Delete", waiting.uri, BOB)]
    with db.session_scope(engine) as s:
        assert s.get(RemoteAssignment, waiting.visit_id) is None
        visit = s.get(Visit, waiting.visit_id)
        assert visit is not None and visit.provider_id == provider.id


def test_a_replacement_after_an_absence_takes_the_visit_back_from_the_remote_provider(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        replacement.reassign(s, settings, setup.coordinator, waiting.visit_id, "beatrice")
    _taken_back(engine, waiting, waiting.bea)


def test_an_applicant_chosen_by_the_beneficiary_takes_the_visit_back_from_the_remote_provider(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    martin = make_user(engine, "martin")
    with db.session_scope(engine) as s:
        home = s.get(Beneficiary, setup.beneficiary_id)
        assert home is not None
        home.user_id = martin.id
        s.add(home)
    with db.session_scope(engine) as s:
        applications.apply(s, waiting.carl, waiting.visit_id, colleagues_of)
    with db.session_scope(engine) as s:
        applications.choose(s, settings, martin, waiting.visit_id, waiting.carl.id or 0)
    _taken_back(engine, waiting, waiting.carl)


def test_a_coordinator_giving_or_cancelling_takes_the_visit_back(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, waiting.visit_id, "carlos")
    _taken_back(engine, waiting, waiting.carl)
    with db.session_scope(engine) as s:
        given.give_to_remote(s, settings, setup.coordinator, waiting.visit_id, BOB)
        given.give_to_remote(s, settings, setup.coordinator, waiting.visit_id, ZOE)
    uri = waiting.uri
    assert sent(engine)[2:] == [("Offer", uri, BOB), ("Delete", uri, BOB), ("Offer", uri, ZOE)]
    with db.session_scope(engine) as s:
        given.cancel(s, settings, setup.coordinator, waiting.visit_id, "beneficiary_absent")
    assert sent(engine)[5:] == [("Delete", uri, ZOE)]
    with db.session_scope(engine) as s:
        assert s.get(RemoteAssignment, waiting.visit_id) is None


def test_a_visit_given_to_no_one_is_taken_back_too(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, waiting.visit_id, "")
    assert sent(engine)[1:] == [("Delete", waiting.uri, BOB)]


CHANGES = (
    re.compile(r"\.provider_id\s*=(?!=)"),
    re.compile(r"VisitState\.CANCELLED\s*\)"),
    re.compile(r"update\(\s*Visit\b"),
)


def test_only_the_given_module_changes_who_has_a_visit_or_cancels_it() -> None:
    """The guard behind the tests above: a new path changing a visit's provider (or cancelling it) must
    go through :func:`given.hand_over` or :func:`given.cancel`, or it could forget a remote provider."""
    offenders = []
    for path in sorted(NODE.rglob("*.py")):
        if path.name == "given.py" or "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        for pattern in CHANGES:
            for match in pattern.finditer(source):
                line = source[: match.start()].count("\n") + 1
                text = source.splitlines()[line - 1]
                if "visit" in text.lower() or "Visit" in source[max(0, match.start() - 200) : match.start()]:
                    offenders.append(f"{path.relative_to(NODE.parent)}:{line}: {text.strip()}")
    assert offenders == []
