"""People as actors: how the protocol finds this node's people (:data:`DIRECTORY`), and what a person's
actor document and NodeInfo's usage figures say of accounts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from node.accounts import avatars, moving
from node.accounts.models import AccountStatus, ApiToken, User, WebSession
from node.activitypub.actors import documents, local
from node.activitypub.discovery import Usage
from node.settings import Settings


class Directory:
    """The people of this node, as :class:`node.activitypub.actors.local.Accounts` finds them."""

    def find(self, username: str, *, session: Session, active_only: bool = True) -> User | None:
        """The account called ``username`` (any case); pending, suspended and deleted ones only when
        ``active_only`` is false."""
        user = session.exec(select(User).where(col(User.username) == username.strip().lower())).first()
        if user is None or (active_only and user.status != AccountStatus.ACTIVE.value):
            return None
        return user


DIRECTORY = Directory()


def active_person(username: str, *, session: Session) -> User | None:
    """The active account called ``username``; pending, suspended and unknown ones are None."""
    return DIRECTORY.find(username, session=session)


def person_document(
    settings: Settings, username: str, *, session: Session, create_key: bool
) -> dict[str, Any] | None:
    """The ``Person`` document of an active account, or None; raises
    :class:`~node.activitypub.actors.documents.KeyMissing` when it has no key and ``create_key`` is false."""
    user = active_person(username, session=session)
    if user is None:
        return None
    actor = local.person(settings, user)
    pem = documents.public_key_pem(settings, actor, create=create_key, session=session)
    document = documents.person_document(settings, user, pem, icon_url=avatars.public_url(settings, user))
    target = moving.moved_to(user.pk, session=session)
    if target is not None:
        # Mastodon shows the account as moved and points to the new one; the term is typed as an id.
        document["@context"] = [*document["@context"], {"movedTo": {"@id": "as:movedTo", "@type": "@id"}}]
        document["movedTo"] = target
    return document


def usage(*, session: Session, now: datetime) -> Usage:
    """Active accounts, and those active in the last 30 and 180 days (for NodeInfo).

    There is no last-seen column yet, so activity is approximated: an account counts as active in a
    window when it was created, opened a web session or used an API token within it. Logging out
    deletes the session row, so this undercounts people who log out; never overcounts.
    """
    active = col(User.status) == AccountStatus.ACTIVE.value

    def active_since(moment: datetime) -> int:
        session_since = (
            select(WebSession.id)
            .where(col(WebSession.user_id) == col(User.id), col(WebSession.created_at) >= moment)
            .exists()
        )
        token_since = (
            select(ApiToken.id)
            .where(col(ApiToken.user_id) == col(User.id), col(ApiToken.last_used_at) >= moment)
            .exists()
        )
        statement = (
            select(func.count())
            .select_from(User)
            .where(active, or_(col(User.created_at) >= moment, session_since, token_since))
        )
        return int(session.exec(statement).one())

    total = int(session.exec(select(func.count()).select_from(User).where(active)).one())
    return Usage(
        total=total,
        active_month=active_since(now - timedelta(days=30)),
        active_halfyear=active_since(now - timedelta(days=180)),
    )
