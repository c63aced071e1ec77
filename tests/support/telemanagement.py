"""Telemanagement in tests: a coordinator, a provider, a funder, a beneficiary and a plan, made through
the real services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from node.accounts.models import Role, User
from node.core import db
from node.settings import Settings
from node.telemanagement import plans, visits
from node.telemanagement.models import Beneficiary
from tests.support.accounts import make_user
from tests.support.nodes import Node

CATEGORY = "housework"


@dataclass(frozen=True)
class Setup:
    coordinator: User
    provider: User
    funder_id: int
    beneficiary_id: int
    plan_id: int


def care_setup(
    engine: Engine, settings: Settings, *, valid_from: date, valid_until: date | None = None
) -> Setup:
    """A plan of 20 h a month of housework at 24.58 €/h, 10 % paid by the beneficiary."""
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    provider = make_user(engine, "aline")
    with db.session_scope(engine) as s:
        funder = plans.create_funder(
            s, coordinator, name="CD 93", kind="apa", billing="direct", reference="CD93-7"
        )
        home = plans.create_beneficiary(
            s,
            settings,
            coordinator,
            name="Mme Martin",
            commune="Montreuil",
            address="12 rue de Paris",
            door_code="4812B",
            health="GIR 3, diabète",
        )
        terms = plans.parse_terms(
            valid_from=valid_from.isoformat(),
            valid_until=valid_until.isoformat() if valid_until else "",
            hourly_rate="24,58",
            participation="10",
            hours={CATEGORY: "20"},
        )
        plan = plans.create_plan(
            s,
            coordinator,
            beneficiary_id=home.id or 0,
            funder_id=funder.id or 0,
            folder_number="APA-0042",
            terms=terms,
        )
        return Setup(coordinator, provider, funder.id or 0, home.id or 0, plan.id or 0)


PARIS = ZoneInfo("Europe/Paris")


def started_ago(minutes: int) -> str:
    """The local start time (Paris, to the minute, as the visit form takes it) ``minutes`` ago."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def visit_started_ago(engine: Engine, setup: Setup, minutes: int = 70, provider: str = "aline") -> int:
    """A one-hour visit of the setup's plan that started ``minutes`` ago, given to ``provider``."""
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=started_ago(minutes),
            minutes=60,
            provider=provider,
        )
        return visit.id or 0


def coordinator_and_provider(node: Node, coordinator: str, provider: str) -> None:
    """On a real node: the people ``coordinator`` (given the coordinator role) and ``provider``."""
    node.add_person(coordinator)
    node.add_person(provider)
    assert node.process.cli("user", "set-role", coordinator, "coordinator").returncode == 0


def api_plan(
    node: Node, coordinator: str, home: dict[str, str], *, folder: str, hours: str = "12"
) -> dict[str, Any]:
    """Through a real node's API: a funder, the beneficiary ``home`` and a housework plan valid from two
    days ago, made by ``coordinator`` (already a coordinator); the plan as the API answers it, with the
    ``beneficiary_id``."""
    funder = node.ok(
        "POST", "/funders", {"name": "Département 93", "kind": "apa", "billing": "direct"}, user=coordinator
    )
    beneficiary = node.ok("POST", "/beneficiaries", home, user=coordinator)
    plan: dict[str, Any] = node.ok(
        "POST",
        "/plans",
        {
            "beneficiary_id": beneficiary["id"],
            "funder_id": funder["id"],
            "folder_number": folder,
            "valid_from": (datetime.now(PARIS).date() - timedelta(days=2)).isoformat(),
            "hourly_rate": "24.58",
            "participation": "10",
            "hours": {CATEGORY: hours},
        },
        user=coordinator,
    )
    return plan


def beneficiary_account(engine: Engine, setup: Setup, username: str = "martin") -> User:
    """A new account, linked to the setup's beneficiary as theirs."""
    user = make_user(engine, username)
    with db.session_scope(engine) as s:
        home = s.get(Beneficiary, setup.beneficiary_id)
        assert home is not None
        home.user_id = user.id
        s.add(home)
    return user
