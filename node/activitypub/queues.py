"""The durable queues of the protocol as an operator watches them: how many rows wait or are claimed
in each, and how old the oldest waiting row is (``/metrics``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.activitypub.models import Delivery, DeliveryState, InboxActivity, InboxState
from node.core.timeutil import utcnow

Labels = tuple[tuple[str, str], ...]


def gauges(*, session: Session, now: datetime | None = None) -> dict[str, dict[Labels, float]]:
    """``asasap_queue_depth`` by queue and state (rows not finished), and
    ``asasap_queue_oldest_age_seconds`` of the rows waiting in each queue."""
    now = now or utcnow()
    depth: dict[Labels, float] = {}
    oldest: dict[Labels, float] = {}
    queues = (
        (
            "deliveries",
            Delivery,
            (DeliveryState.PENDING.value, DeliveryState.SENDING.value),
            Delivery.created_at,
        ),
        (
            "inbox",
            InboxActivity,
            (InboxState.PENDING.value, InboxState.PROCESSING.value),
            InboxActivity.received_at,
        ),
    )
    for name, model, states, since in queues:
        for state in states:
            depth[(("queue", name), ("state", state))] = 0.0
        rows = session.exec(
            select(col(model.state), func.count(), func.min(since))
            .where(col(model.state).in_(states))
            .group_by(col(model.state))
        ).all()
        first: datetime | None = None
        for state, count, earliest in rows:
            depth[(("queue", name), ("state", state))] = float(count)
            if earliest is not None and (first is None or earliest < first):
                first = earliest
        oldest[(("queue", name),)] = max(0.0, (now - first).total_seconds()) if first else 0.0
    return {"asasap_queue_depth": depth, "asasap_queue_oldest_age_seconds": oldest}
