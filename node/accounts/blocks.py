"""Blocks between people: one of our people blocks an actor (of this node or another). A blocked actor's
messages to them are refused (sent here) or dropped (received) by the conversations, and its answers to
their proposals are refused by the marketplace: both read :func:`is_blocked`, which is why blocks live
with the accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Session, col, select

from node.activitypub.addressing import is_uri
from node.activitypub.models import URI
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class PersonBlock(SQLModel, table=True):
    """One of our people blocks an actor: no more messages from them, nor answers to their proposals."""

    __tablename__ = "person_blocks"
    __table_args__ = (UniqueConstraint("user_id", "blocked_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    blocked_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


MSG_NOT_AN_ACTOR = N_("This is not the address of an account.")
MSG_SELF = N_("You cannot block yourself.")


def is_blocked(user_id: int, actor_uri: str, *, session: Session) -> bool:
    """Whether the person ``user_id`` blocked ``actor_uri``."""
    query = select(PersonBlock.id).where(
        col(PersonBlock.user_id) == user_id, col(PersonBlock.blocked_uri) == actor_uri
    )
    return session.exec(query).first() is not None


def block(user_id: int, own_uri: str, actor_uri: str, *, session: Session) -> PersonBlock:
    """``user_id`` (whose actor is ``own_uri``) blocks ``actor_uri``."""
    if not is_uri(actor_uri):
        raise ValidationFailed(MSG_NOT_AN_ACTOR, fields={"actor": MSG_NOT_AN_ACTOR})
    if actor_uri == own_uri:
        raise ValidationFailed(MSG_SELF, fields={"actor": MSG_SELF})
    if is_blocked(user_id, actor_uri, session=session):
        raise Conflict(N_("You already block this account."))
    row = PersonBlock(user_id=user_id, blocked_uri=actor_uri)
    session.add(row)
    session.flush()
    return row


def unblock(user_id: int, actor_uri: str, *, session: Session) -> None:
    row = session.exec(
        select(PersonBlock).where(
            col(PersonBlock.user_id) == user_id, col(PersonBlock.blocked_uri) == actor_uri
        )
    ).first()
    if row is None:
        raise NotFound(N_("You do not block this account."))
    session.delete(row)


def blocked_by(user_id: int, *, session: Session) -> Sequence[PersonBlock]:
    return session.exec(
        select(PersonBlock).where(col(PersonBlock.user_id) == user_id).order_by(col(PersonBlock.id))
    ).all()
