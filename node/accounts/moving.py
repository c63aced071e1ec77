"""One of our people moves to an account on another server, as Mastodon does it.

The person first adds this account to the new one's aliases (``alsoKnownAs``, "Moving from a different
account" on Mastodon); then :func:`move_away` checks that the new account, as fetched from its origin,
lists this one, records the move, and sends ``Move`` (``object`` this account, ``target`` the new one) to
every follower: their servers move their follows to the new account. Our actor document then carries
``movedTo``. The account stays open here (its agreements, evaluations and time bank go on); it can
move again, to correct a mistake, but never to one of our own accounts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Session

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.models import URI, RemoteActor
from node.activitypub.outbox.publish import publish
from node.activitypub.social.moves import also_known_as, document_of
from node.core.errors import N_, ValidationFailed
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow
from node.settings import Settings

MSG_NOT_ALIASED = N_(
    "The new account does not list this one among its aliases yet: add this account's address there "
    "first (on Mastodon: Preferences, Account, Moving from a different account), then try again."
)
MSG_LOCAL = N_("Give the address of your new account on another server.")


class AccountMove(SQLModel, table=True):
    """Where one of our people moved (the new account's id), and when."""

    __tablename__ = "account_moves"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    target_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    moved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def moved_to(user_id: int, *, session: Session) -> str | None:
    """The account ``user_id`` moved to, if it did."""
    row = session.get(AccountMove, user_id)
    return row.target_uri if row is not None else None


def move_away(settings: Settings, user: User, target: RemoteActor, *, session: Session) -> AccountMove:
    """Move ``user`` to ``target`` (fetched from its origin): ``Move`` sent to every follower."""
    me = local.person(settings, user).uri
    if local.is_local(settings, target.uri) or target.uri == me:
        raise ValidationFailed(MSG_LOCAL, fields={"target": MSG_LOCAL})
    if me not in also_known_as(document_of(target.raw)):
        raise ValidationFailed(MSG_NOT_ALIASED, fields={"target": MSG_NOT_ALIASED})
    row = session.get(AccountMove, user.pk) or AccountMove(user_id=user.pk, target_uri=target.uri)
    row.target_uri, row.moved_at = target.uri, utcnow()
    session.add(row)
    publish(
        settings,
        actor=local.person(settings, user),
        activity={"type": "Move", "object": me, "target": target.uri, "cc": [me + "/followers"]},
        to_followers=True,
        recipients=[target.uri],
        session=session,
    )
    return row
