"""Replacement and giving visits in tests: a provider qualified for the test's activity, and what the
outbox holds for providers of other nodes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from node.accounts.models import User, UserCategory
from node.activitypub.models import Delivery, OutboxActivity
from node.core import db
from node.settings import Settings
from node.telemanagement import replacement, visits
from tests.support.accounts import make_user
from tests.support.groups import make_group
from tests.support.telemanagement import CATEGORY, Setup


def qualified_provider(engine: Engine, username: str) -> User:
    """A self-employed person offering :data:`CATEGORY`."""
    user = make_user(engine, username)
    with db.session_scope(engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.provider_status = "self_employed"
        s.add(row)
        s.add(UserCategory(user_id=user.id or 0, category=CATEGORY))
    return user


def colleagues(engine: Engine, settings: Settings, setup: Setup) -> tuple[User, User]:
    """Beatrice and Carlos, qualified (:func:`qualified_provider`), in a group with Aline (the setup's
    provider)."""
    bea, carl = qualified_provider(engine, "beatrice"), qualified_provider(engine, "carlos")
    make_group(engine, settings, setup.provider, joining=(bea, carl))
    return bea, carl


def sent_to_remote(engine: Engine) -> list[tuple[str, str, str]]:
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


def tomorrow_at_ten() -> datetime:
    """Tomorrow at 10:00, Paris time."""
    return (datetime.now(UTC) + timedelta(days=1)).astimezone(visits.PARIS).replace(hour=10, minute=0)


def plan_series(engine: Engine, setup: Setup, first: datetime, rule: str) -> tuple[int, list[int]]:
    """A series of hour-long visits of Aline's (the setup's provider) from ``first`` (Paris time) by the
    recurrence ``rule``: its id and its visits', soonest first."""
    with db.session_scope(engine) as s:
        series, made = visits.plan_series(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=first.replace(tzinfo=None).isoformat(timespec="minutes"),
            minutes=60,
            rule=rule,
            provider="aline",
        )
        return series.id or 0, [v.id or 0 for v in made]


def visit_tomorrow(engine: Engine, setup: Setup) -> int:
    """A visit of Aline's tomorrow at 10:00, an hour long: its id."""
    with db.session_scope(engine) as s:
        visit = visits.plan_visit(
            s,
            setup.coordinator,
            plan_id=setup.plan_id,
            category=CATEGORY,
            start=tomorrow_at_ten().replace(tzinfo=None).isoformat(timespec="minutes"),
            minutes=60,
            provider="aline",
        )
        return visit.id or 0


def absent_tomorrow(engine: Engine, settings: Settings, setup: Setup) -> list[int]:
    """Aline declares herself absent tomorrow: the ids of the visits that frees."""
    day = tomorrow_at_ten().date().isoformat()
    with db.session_scope(engine) as s:
        _absence, freed = replacement.declare_absence(
            s, settings, setup.provider, first_day=day, last_day=day
        )
        return [v.id or 0 for v in freed]
