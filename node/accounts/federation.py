"""What other servers must hear when an account or the node changes: ``Update`` of the actor after a
profile edit or a key rotation, ``Delete`` of the actor when an account is deleted.

Each function publishes in the caller's transaction, next to the change it announces.
"""

from __future__ import annotations

from sqlmodel import Session, select

from node.accounts import avatars, service
from node.accounts.models import User
from node.activitypub import keys
from node.activitypub.actors import documents as actors
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.addressing import PUBLIC
from node.activitypub.keys import ActorKey
from node.activitypub.models import Follow, FollowState
from node.activitypub.outbox.publish import publish
from node.activitypub.social import audience
from node.settings import Settings


def _document(settings: Settings, actor: LocalActor, *, session: Session) -> dict[str, object]:
    pem = actors.public_key_pem(settings, actor, create=True, session=session)
    if actor.user_id is None:
        return actors.node_document(settings, pem)
    user = session.get(User, actor.user_id)
    assert user is not None
    return actors.person_document(settings, user, pem, icon_url=avatars.public_url(settings, user))


def announce_update(settings: Settings, actor: LocalActor, *, session: Session) -> None:
    """Send ``Update`` of ``actor``'s current document to its followers, the nodes that follow this node
    and the relays (they may all hold a copy of the actor)."""
    node_followers, relays = audience.public_audience(settings, session=session)
    publish(
        settings,
        actor=actor,
        activity={
            "type": "Update",
            "object": _document(settings, actor, session=session),
            "to": [PUBLIC],
            "cc": [actor.followers],
        },
        to_followers=True,
        recipients=node_followers,
        inboxes=relays,
        session=session,
    )


def profile_changed(settings: Settings, user: User, *, session: Session) -> None:
    announce_update(settings, local.person(settings, user), session=session)


def account_deleted(settings: Settings, user: User, *, session: Session) -> None:
    """Tell followers and followees that the actor is gone (before its data is erased; the key stays)."""
    actor = local.person(settings, user)
    followees = session.exec(
        select(Follow.followee_uri).where(
            Follow.follower_uri == actor.uri, Follow.state == FollowState.ACCEPTED.value
        )
    ).all()
    publish(
        settings,
        actor=actor,
        activity={"type": "Delete", "object": actor.uri, "to": [PUBLIC], "cc": [actor.followers]},
        to_followers=True,
        recipients=list(followees),
        session=session,
    )


def rotate_key(settings: Settings, actor: LocalActor, *, session: Session) -> ActorKey:
    """Give ``actor`` a new key pair and publish it with ``Update``; the old key is retired."""
    row = keys.generate_key(
        actor.key_owner, settings.effective_secret_key, user_id=actor.user_id, session=session
    )
    announce_update(settings, actor, session=session)
    return row


def set_approve_followers(settings: Settings, user: User, approve: bool, *, session: Session) -> User:
    """Whether ``user`` approves each new follower (else follows are accepted at once); other servers
    hear it with an ``Update`` of the actor."""
    account = service.reload(user, session=session)
    account.approve_followers = approve
    session.add(account)
    session.flush()
    profile_changed(settings, account, session=session)
    return account
