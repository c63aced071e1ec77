"""Notifications: what a person should know about (a bid on their demand, an acceptance, a reply from the
fediverse, an evaluation revealed...). Services call :func:`notify` in the transaction of the change."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from node.core.errors import N_
from node.core.timeutil import utcnow
from node.market.models import Notification


class Kind(StrEnum):
    BID_RECEIVED = "bid_received"
    BID_WITHDRAWN = "bid_withdrawn"
    BID_ACCEPTED = "bid_accepted"
    BID_REJECTED = "bid_rejected"
    AGREEMENT_CONFIRMED = "agreement_confirmed"
    AGREEMENT_COMPLETED = "agreement_completed"
    AGREEMENT_CANCELLED = "agreement_cancelled"
    AGREEMENT_DISPUTED = "agreement_disputed"
    CONTACT_SHARED = "contact_shared"
    EVALUATION_RECEIVED = "evaluation_received"
    EVALUATION_PUBLISHED = "evaluation_published"
    REPLY = "reply"
    PROPOSAL_EXPIRED = "proposal_expired"
    # micro-organisations (node.groups)
    GROUP_JOIN_REQUEST = "group_join_request"
    GROUP_MEMBERSHIP = "group_membership"
    GROUP_INVITED = "group_invited"
    GROUP_ASSIGNED = "group_assigned"
    GROUP_NOTICE = "group_notice"
    GROUP_MEMBER_LEFT = "group_member_left"
    GROUP_BID = "group_bid"
    GROUP_AGREEMENT = "group_agreement"
    GROUP_INVITATION_ANSWERED = "group_invitation_answered"
    # time bank (node.timebank)
    TIMEBANK_RECEIVED = "timebank_received"
    TIMEBANK_WAITING = "timebank_waiting"
    TIMEBANK_REFUSED = "timebank_refused"
    # conversations and moderation (node.conversations)
    MESSAGE = "message"
    REPORT = "report"
    # search (node.search)
    SAVED_SEARCH_MATCH = "saved_search_match"
    MATCH_DEMAND = "match_demand"  # a demand the person could answer (node.search.matching)
    MATCH_OFFER = "match_offer"  # an offer that answers the person's demand
    # telemanagement (node.telemanagement)
    VISIT_REPLACED = "visit_replaced"
    VISIT_GIVEN = "visit_given"
    VISIT_TAKEN = "visit_taken"  # a visit one applied for went to someone else
    # a moderator's warning (node.conversations.reports)
    MODERATION_WARNING = "moderation_warning"


LABELS: dict[Kind, str] = {
    Kind.BID_RECEIVED: N_("New answer to your proposal"),
    Kind.BID_WITHDRAWN: N_("An answer was withdrawn"),
    Kind.BID_ACCEPTED: N_("Your answer was accepted"),
    Kind.BID_REJECTED: N_("Your answer was not chosen"),
    Kind.AGREEMENT_CONFIRMED: N_("The other party confirmed the service"),
    Kind.AGREEMENT_COMPLETED: N_("Service completed"),
    Kind.AGREEMENT_CANCELLED: N_("Agreement cancelled"),
    Kind.AGREEMENT_DISPUTED: N_("Agreement disputed"),
    Kind.CONTACT_SHARED: N_("Contact details shared"),
    Kind.EVALUATION_RECEIVED: N_("You were evaluated"),
    Kind.EVALUATION_PUBLISHED: N_("Evaluations published"),
    Kind.REPLY: N_("Reply to your proposal"),
    Kind.PROPOSAL_EXPIRED: N_("Your proposal expired"),
    Kind.GROUP_JOIN_REQUEST: N_("Someone asks to join your group"),
    Kind.GROUP_MEMBERSHIP: N_("Your membership of a group changed"),
    Kind.GROUP_INVITED: N_("You are invited to join a group"),
    Kind.GROUP_ASSIGNED: N_("You are assigned to a group's service"),
    Kind.GROUP_NOTICE: N_("A notice from your group"),
    Kind.GROUP_MEMBER_LEFT: N_("A member left your group"),
    Kind.GROUP_BID: N_("New answer to your group's proposal"),
    Kind.GROUP_AGREEMENT: N_("New agreement for your group"),
    Kind.GROUP_INVITATION_ANSWERED: N_("Someone answered your group's invitation"),
    Kind.TIMEBANK_RECEIVED: N_("You received time"),
    Kind.TIMEBANK_WAITING: N_("A transfer of time waits: a limit is reached"),
    Kind.TIMEBANK_REFUSED: N_("A transfer of time to another node was refused"),
    Kind.MESSAGE: N_("New message"),
    Kind.REPORT: N_("New report to moderate"),
    Kind.SAVED_SEARCH_MATCH: N_("A new proposal matches your saved search"),
    Kind.MATCH_DEMAND: N_("A new demand you could answer"),
    Kind.MATCH_OFFER: N_("A new offer answers your demand"),
    Kind.VISIT_REPLACED: N_("Someone else comes for a visit: your usual provider is away"),
    Kind.VISIT_GIVEN: N_("A visit was given to you, replacing someone away"),
    Kind.VISIT_TAKEN: N_("A visit you applied for was given to someone else"),
    Kind.MODERATION_WARNING: N_("A warning from the node's moderators"),
}


def notify(
    user_id: int,
    kind: Kind,
    *,
    session: Session,
    object_uri: str | None = None,
    actor_uri: str | None = None,
    data: dict[str, Any] | None = None,
) -> Notification:
    """Record a notification for the local person ``user_id`` (no email or push: the page shows it)."""
    row = Notification(
        user_id=user_id,
        kind=kind.value,
        object_uri=object_uri,
        actor_uri=actor_uri,
        data=json.dumps(data or {}, ensure_ascii=False),
    )
    session.add(row)
    return row


def list_for(
    user_id: int, *, session: Session, limit: int = 50, unread_only: bool = False
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    return session.exec(
        query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit)
    ).all()


@functools.cache
def _unread_statement() -> SelectOfScalar[int]:
    """How many notifications ``user_id`` has not read: every page's menu shows it, so built once."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.user_id) == bindparam("user_id"), col(Notification.read_at).is_(None))
    )


def unread_count(user_id: int, *, session: Session) -> int:
    return session.exec(_unread_statement(), params={"user_id": user_id}).one()


def mark_all_read(user_id: int, *, session: Session) -> int:
    result = session.execute(
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def payload(row: Notification) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.data or "{}")
    return data
