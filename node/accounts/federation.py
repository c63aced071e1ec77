"""What other servers must hear when an account or the node changes: ``Update`` of the actor after a
profile edit or a key rotation, ``Delete`` of the actor when an account is deleted.

Each function publishes in the caller's transaction, next to the change it announces.
"""

from __future__ import annotations

from sqlmodel import Session, select

from node.accounts.models import User
from node.activitypub import keys, social
from node.activitypub.actors import documents as actors
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.keys import ActorKey
from node.activitypub.models import Follow, FollowState
from node.activitypub.outbox.publish import publish
from node.settings import Settings

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _document(session: Session, settings: Settings, actor: LocalActor) -> dict[str, object]:
    pem = actors.public_key_pem(session, settings, actor, create=True)
    if actor.user_id is None:
        return actors.node_document(settings, pem)
    user = session.get(User, actor.user_id)
    assert user is not None
    return actors.person_document(settings, user, pem, manually_approves_followers=user.approve_followers)


def announce_update(session: Session, settings: Settings, actor: LocalActor) -> None:
    """Send ``Update`` of ``actor``'s current document to its followers, the nodes that follow this node
    and the relays (they may all hold a copy of the actor)."""
    node_followers, relays = social.public_audience(session, settings)
    publish(
        session,
        settings,
        actor=actor,
        activity={
            "type": "Update",
            "object": _document(session, settings, actor),
            "to": [PUBLIC],
            "cc": [actor.followers],
        },
        to_followers=True,
        recipients=node_followers,
        inboxes=relays,
    )


def profile_changed(session: Session, settings: Settings, user: User) -> None:
    announce_update(session, settings, local.person(settings, user))


def account_deleted(session: Session, settings: Settings, user: User) -> None:
    """Tell followers and followees that the actor is gone (before its data is erased; the key stays)."""
    actor = local.person(settings, user)
    followees = session.exec(
        select(Follow.followee_uri).where(
            Follow.follower_uri == actor.uri, Follow.state == FollowState.ACCEPTED.value
        )
    ).all()
    publish(
        session,
        settings,
        actor=actor,
        activity={"type": "Delete", "object": actor.uri, "to": [PUBLIC], "cc": [actor.followers]},
        to_followers=True,
        recipients=list(followees),
    )


def rotate_key(session: Session, settings: Settings, actor: LocalActor) -> ActorKey:
    """Give ``actor`` a new key pair and publish it with ``Update``; the old key is retired."""
    row = keys.generate_key(session, actor.key_owner, settings.effective_secret_key, user_id=actor.user_id)
    announce_update(session, settings, actor)
    return row
