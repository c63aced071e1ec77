"""Replacement and giving visits in tests: a provider qualified for the test's activity, and what the
outbox holds for providers of other nodes."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlmodel import col, select

from node.accounts.models import User, UserCategory
from node.activitypub.models import Delivery, OutboxActivity
from node.core import db
from tests.support.accounts import make_user
from tests.support.telemanagement import CATEGORY


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
