"""A visit given to a provider of another node is taken back from them (a ``Delete`` of the commitment
addressed to their actor, queued in the outbox) whichever way it changes hands: a coordinator gives it to
one of ours, to no one or to another remote provider, or cancels it. A visit that waited for a
replacement after an absence no longer waits once given to them: no replacement or applicant can take
it. No module of the code base changes a visit's provider or cancels it
without :mod:`node.telemanagement.given`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from node.accounts.models import User
from node.core import db
from node.core.errors import Conflict, ValidationFailed
from node.groups.colleagues import colleagues_of
from node.settings import Settings
from node.telemanagement import applications, federation, given, replacement
from node.telemanagement.models import Visit
from node.telemanagement.tables import RemoteAssignment
from tests.support.replacements import absent_tomorrow, colleagues, sent_to_remote, visit_tomorrow
from tests.support.telemanagement import Setup, beneficiary_account, care_setup

BOB = "https://bagnolet.test/users/bob"
ZOE = "https://romainville.test/users/zoe"
NODE = Path(__file__).resolve().parents[2] / "node"


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=datetime.now(UTC).date() - timedelta(days=5))


@dataclass
class Waiting:
    """A visit of Aline's, freed by her absence, then given to Bob on another node."""

    visit_id: int
    uri: str
    bea: User
    carl: User


@pytest.fixture
def waiting(engine: Engine, settings: Settings, setup: Setup) -> Waiting:
    bea, carl = colleagues(engine, settings, setup)
    visit_id = visit_tomorrow(engine, setup)
    assert absent_tomorrow(engine, settings, setup) == [visit_id]
    with db.session_scope(engine) as s:
        given.give_to_remote(s, settings, setup.coordinator, visit_id, BOB)
    uri = federation.visit_uri(settings, visit_id)
    assert sent_to_remote(engine) == [("Offer", uri, BOB)]
    return Waiting(visit_id, uri, bea, carl)


def _taken_back(engine: Engine, waiting: Waiting, provider: User) -> None:
    assert sent_to_remote(engine)[1:] == [("Delete", waiting.uri, BOB)]
    with db.session_scope(engine) as s:
        assert s.get(RemoteAssignment, waiting.visit_id) is None
        visit = s.get(Visit, waiting.visit_id)
        assert visit is not None and visit.provider_id == provider.id


def test_a_visit_given_away_while_waiting_no_longer_waits(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    """Given to Bob, the visit is settled: no replacement, no applicant can take it from him any more
    (:mod:`tests.telemanagement.test_waits` for every path)."""
    martin = beneficiary_account(engine, setup)
    with db.session_scope(engine) as s:
        with pytest.raises(ValidationFailed):
            replacement.reassign(s, settings, setup.coordinator, waiting.visit_id, "beatrice")
        with pytest.raises(Conflict):
            applications.apply(s, waiting.carl, waiting.visit_id, colleagues_of)
        assert applications.waiting_for(s, martin) == []
    assert sent_to_remote(engine) == [("Offer", waiting.uri, BOB)]


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
    assert sent_to_remote(engine)[2:] == [("Offer", uri, BOB), ("Delete", uri, BOB), ("Offer", uri, ZOE)]
    with db.session_scope(engine) as s:
        given.cancel(s, settings, setup.coordinator, waiting.visit_id, "beneficiary_absent")
    assert sent_to_remote(engine)[5:] == [("Delete", uri, ZOE)]
    with db.session_scope(engine) as s:
        assert s.get(RemoteAssignment, waiting.visit_id) is None


def test_a_visit_given_to_no_one_is_taken_back_too(
    engine: Engine, settings: Settings, setup: Setup, waiting: Waiting
) -> None:
    with db.session_scope(engine) as s:
        given.assign(s, settings, setup.coordinator, waiting.visit_id, "")
    assert sent_to_remote(engine)[1:] == [("Delete", waiting.uri, BOB)]


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
