"""What an administrator sees of and does to the delivery queue: list deliveries, count them by state,
retry failed ones (``asasap federation deliveries``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from node.activitypub.models import Delivery, DeliveryState, OutboxActivity
from node.activitypub.outbox.delivery import require_transition, states_leading_to
from node.core.errors import N_, Conflict, NotFound
from node.core.timeutil import isoformat, utcnow


@dataclass(frozen=True)
class DeliveryInfo:
    """One delivery with the activity it carries, for listings."""

    id: int
    activity_id: str
    activity_type: str
    actor_uri: str
    target: str
    inbox_url: str | None
    domain: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as RFC 3339 text)."""
        data = asdict(self)
        for name in ("next_attempt_at", "created_at", "delivered_at"):
            data[name] = isoformat(data[name])
        return data


def list_deliveries(*, session: Session, failed_only: bool = False, limit: int = 100) -> list[DeliveryInfo]:
    """The latest deliveries, newest first; ``failed_only`` keeps those that failed for good."""
    query = (
        select(
            Delivery, col(OutboxActivity.activity_id), col(OutboxActivity.type), col(OutboxActivity.actor_uri)
        )
        .join(OutboxActivity, col(OutboxActivity.id) == col(Delivery.outbox_id))
        .order_by(col(Delivery.id).desc())
        .limit(max(1, limit))
    )
    if failed_only:
        query = query.where(col(Delivery.state) == DeliveryState.FAILED.value)
    return [
        DeliveryInfo(
            id=row.id or 0,
            activity_id=activity_id,
            activity_type=activity_type,
            actor_uri=actor_uri,
            target=row.target,
            inbox_url=row.inbox_url,
            domain=row.domain,
            state=row.state,
            attempts=row.attempts,
            last_status=row.last_status,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )
        for row, activity_id, activity_type, actor_uri in session.exec(query).all()
    ]


def count_by_state(*, session: Session) -> dict[str, int]:
    """How many deliveries are in each state (every state listed, zero included)."""
    counts = {state.value: 0 for state in DeliveryState}
    for state, count in session.exec(select(col(Delivery.state), func.count()).group_by(col(Delivery.state))):
        counts[state] = int(count)
    return counts


def retry(delivery_id: int, *, session: Session) -> Delivery:
    """Put a failed delivery back in the queue, due now (it gets one more attempt)."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(N_("There is no such delivery."))
    if row.state != DeliveryState.FAILED.value:
        raise Conflict(N_("Only a failed delivery can be retried."))
    require_transition(row.state, DeliveryState.PENDING)
    now = utcnow()
    row.state = DeliveryState.PENDING.value
    row.next_attempt_at = now
    row.lease_until = None
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def retry_all_failed(*, session: Session) -> int:
    """Put every failed delivery back in the queue, due now; how many."""
    assert DeliveryState.FAILED.value in states_leading_to(DeliveryState.PENDING)
    now = utcnow()
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.state) == DeliveryState.FAILED.value)
        .values(state=DeliveryState.PENDING.value, next_attempt_at=now, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
