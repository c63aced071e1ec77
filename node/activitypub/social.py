"""The social graph: people and nodes following each other across servers, and relays.

Outgoing: :func:`follow`, :func:`unfollow`, :func:`accept_request`, :func:`reject_request`,
:func:`remove_follower`, :func:`add_relay`, :func:`remove_relay` write the ``follows``/``relays`` rows
and publish the activity in the same transaction. Incoming: the handlers registered below process
``Follow``, ``Accept``, ``Reject`` and ``Undo`` from the verified inbox rows.

A follow is ``pending`` until the followee accepts it; people accept automatically unless they chose to
approve followers, and the node actor always accepts (node-to-node following is how a node receives
another node's public activity). An ``Accept`` or ``Reject`` counts only when its signer is the
followee, an ``Undo`` only when its signer is the follower.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.addressing import PUBLIC
from node.activitypub.inbox.processing import Outcome, PermanentFailure, ProcessingContext, handles
from node.activitypub.models import Follow, FollowState, Relay, RelayState, RemoteActor
from node.activitypub.outbox.publish import publish
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.federation")


def _follow_object(follow: Follow) -> dict[str, Any]:
    return {
        "id": follow.activity_id,
        "type": "Follow",
        "actor": follow.follower_uri,
        "object": follow.followee_uri,
    }


def find_follow(follower_uri: str, followee_uri: str, *, session: Session) -> Follow | None:
    return session.exec(
        select(Follow).where(Follow.follower_uri == follower_uri, Follow.followee_uri == followee_uri)
    ).first()


def follow(
    settings: Settings, *, session: Session, follower: LocalActor, target: RemoteActor | LocalActor
) -> Follow:
    """``follower`` asks to follow ``target``: a remote actor (pending until it accepts), or someone of
    this node (accepted at once unless they approve followers; nothing to federate)."""
    if isinstance(target, LocalActor):
        return _follow_locally(settings, follower, target, session=session)
    existing = find_follow(follower.uri, target.uri, session=session)
    if existing is not None and existing.state != FollowState.REJECTED:
        raise Conflict(N_("Already following or asked to follow."))
    activity_id = local.new_activity_id(settings)
    if existing is None:
        existing = Follow(
            follower_uri=follower.uri,
            followee_uri=target.uri,
            activity_id=activity_id,
            local_follower_id=follower.user_id,
        )
    existing.activity_id = activity_id
    existing.state = FollowState.PENDING.value
    existing.updated_at = utcnow()
    session.add(existing)
    session.flush()
    publish(
        settings,
        actor=follower,
        activity={"id": activity_id, "type": "Follow", "object": target.uri},
        recipients=[target.uri],
        session=session,
    )
    return existing


def _follow_locally(
    settings: Settings, follower: LocalActor, target: LocalActor, *, session: Session
) -> Follow:
    if target.uri == follower.uri:
        raise ValidationFailed(
            N_("You cannot follow yourself."), fields={"target": N_("You cannot follow yourself.")}
        )
    if find_follow(follower.uri, target.uri, session=session) is not None:
        raise Conflict(N_("Already following or asked to follow."))
    approve = False
    if target.user_id is not None:
        user = session.get(User, target.user_id)
        approve = bool(user and user.approve_followers)
    row = Follow(
        follower_uri=follower.uri,
        followee_uri=target.uri,
        activity_id=local.new_activity_id(settings),
        local_follower_id=follower.user_id,
        local_followee_id=target.user_id,
        state=(FollowState.PENDING if approve else FollowState.ACCEPTED).value,
    )
    session.add(row)
    session.flush()
    return row


def unfollow(settings: Settings, *, session: Session, follower: LocalActor, target_uri: str) -> None:
    """Stop following ``target_uri`` and tell it with ``Undo(Follow)`` (when it is remote)."""
    row = find_follow(follower.uri, target_uri, session=session)
    if row is None:
        raise NotFound(N_("Not following this actor."))
    if local.is_local(settings, target_uri):
        session.delete(row)
        return
    publish(
        settings,
        actor=follower,
        activity={"type": "Undo", "object": _follow_object(row)},
        recipients=[target_uri],
        session=session,
    )
    session.delete(row)


def followers_waiting(followee: LocalActor, *, session: Session) -> Sequence[Follow]:
    return session.exec(
        select(Follow)
        .where(Follow.followee_uri == followee.uri, Follow.state == FollowState.PENDING.value)
        .order_by(col(Follow.created_at))
    ).all()


def _pending_request(followee: LocalActor, follower_uri: str, *, session: Session) -> Follow:
    row = find_follow(follower_uri, followee.uri, session=session)
    if row is None or row.state != FollowState.PENDING:
        raise NotFound(N_("No such follow request."))
    return row


def accept_request(
    settings: Settings, *, session: Session, followee: LocalActor, follower_uri: str
) -> Follow:
    """Accept a pending follow request and send ``Accept(Follow)``."""
    row = _pending_request(followee, follower_uri, session=session)
    row.state = FollowState.ACCEPTED.value
    row.updated_at = utcnow()
    session.add(row)
    publish(
        settings,
        actor=followee,
        activity={"type": "Accept", "object": _follow_object(row)},
        recipients=[follower_uri],
        session=session,
    )
    return row


def reject_request(settings: Settings, *, session: Session, followee: LocalActor, follower_uri: str) -> None:
    """Refuse a pending follow request and send ``Reject(Follow)``."""
    row = _pending_request(followee, follower_uri, session=session)
    publish(
        settings,
        actor=followee,
        activity={"type": "Reject", "object": _follow_object(row)},
        recipients=[follower_uri],
        session=session,
    )
    session.delete(row)


def remove_follower(settings: Settings, *, session: Session, followee: LocalActor, follower_uri: str) -> None:
    """Remove an accepted follower (Mastodon does this with ``Reject(Follow)`` too)."""
    row = find_follow(follower_uri, followee.uri, session=session)
    if row is None:
        raise NotFound(N_("This actor does not follow you."))
    publish(
        settings,
        actor=followee,
        activity={"type": "Reject", "object": _follow_object(row)},
        recipients=[follower_uri],
        session=session,
    )
    session.delete(row)


def add_relay(settings: Settings, inbox_url: str, *, session: Session) -> Relay:
    """Subscribe the node to a Mastodon/LitePub-style relay through its inbox."""
    inbox_url = inbox_url.strip()
    if not inbox_url.startswith(("https://", "http://")):
        raise ValidationFailed(
            N_("A relay is given by its inbox URL."), fields={"inbox": N_("Not an http(s) URL.")}
        )
    if session.exec(select(Relay.id).where(Relay.inbox_url == inbox_url)).first() is not None:
        raise Conflict(N_("This relay is already subscribed."))
    activity_id = local.new_activity_id(settings)
    relay = Relay(inbox_url=inbox_url, follow_activity_id=activity_id)
    session.add(relay)
    # Mastodon's relay protocol: the node actor follows the public collection, sent to the relay's inbox.
    publish(
        settings,
        actor=local.node_actor(settings),
        activity={"id": activity_id, "type": "Follow", "object": PUBLIC},
        inboxes=[inbox_url],
        session=session,
    )
    return relay


def remove_relay(settings: Settings, inbox_url: str, *, session: Session) -> None:
    relay = session.exec(select(Relay).where(Relay.inbox_url == inbox_url.strip())).first()
    if relay is None:
        raise NotFound(N_("No such relay."))
    node = local.node_actor(settings)
    publish(
        settings,
        actor=node,
        activity={
            "type": "Undo",
            "object": {"id": relay.follow_activity_id, "type": "Follow", "actor": node.uri, "object": PUBLIC},
        },
        inboxes=[relay.inbox_url],
        session=session,
    )
    session.delete(relay)


def list_relays(*, session: Session) -> Sequence[Relay]:
    return session.exec(select(Relay).order_by(col(Relay.created_at))).all()


def public_audience(settings: Settings, *, session: Session) -> tuple[list[str], list[str]]:
    """Who also receives every public activity of the node: the node actor's followers (other nodes)
    and the accepted relays' inboxes, as ``(actor URIs, inbox URLs)``."""
    node_uri = local.node_actor(settings).uri
    followers = session.exec(
        select(Follow.follower_uri).where(
            Follow.followee_uri == node_uri, Follow.state == FollowState.ACCEPTED.value
        )
    ).all()
    relays = session.exec(select(Relay.inbox_url).where(Relay.state == RelayState.ACCEPTED.value)).all()
    return list(followers), list(relays)


def publish_public(
    settings: Settings, *, session: Session, actor: LocalActor, activity: dict[str, Any]
) -> None:
    """Publish a public activity: to the actor's followers, the node's followers and the relays."""
    node_followers, relays = public_audience(settings, session=session)
    document = dict(activity)
    document.setdefault("to", [PUBLIC])
    document.setdefault("cc", [actor.followers])
    publish(
        settings,
        actor=actor,
        activity=document,
        to_followers=True,
        recipients=node_followers,
        inboxes=relays,
        public=True,
        session=session,
    )


# --- incoming ------------------------------------------------------------------------------------


def _id(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        found: str = value["id"]
        return found
    return None


def local_actor_for(settings: Settings, uri: str, *, session: Session) -> LocalActor | None:
    """Our active actor at ``uri`` (a person or the node), else None."""
    if uri == local.node_actor(settings).uri:
        return local.node_actor(settings)
    username = local.local_username(settings, uri)
    if username is None:
        return None
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.status != AccountStatus.ACTIVE:
        return None
    return local.person(settings, user)


@handles("Follow")
def on_follow(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome | None:
    target_uri = _id(activity.get("object"))
    if target_uri is None:
        raise PermanentFailure("Follow without an object")
    followee = local_actor_for(ctx.settings, target_uri, session=ctx.session)
    if followee is None:
        return Outcome.IGNORED  # not one of ours, or not active
    follower = ctx.actor(ctx.actor_uri)
    row = find_follow(follower.uri, followee.uri, session=ctx.session)
    if row is None:
        row = Follow(
            follower_uri=follower.uri,
            followee_uri=followee.uri,
            activity_id=str(activity["id"]),
            local_followee_id=followee.user_id,
        )
    else:
        row.activity_id = str(activity["id"])
    approve = False
    if followee.user_id is not None:
        user = ctx.session.get(User, followee.user_id)
        approve = bool(user and user.approve_followers)
    if row.state != FollowState.ACCEPTED:
        row.state = (FollowState.PENDING if approve else FollowState.ACCEPTED).value
    row.updated_at = utcnow()
    ctx.session.add(row)
    ctx.session.flush()
    if row.state == FollowState.ACCEPTED:
        publish(
            ctx.settings,
            actor=followee,
            activity={"type": "Accept", "object": _follow_object(row)},
            recipients=[follower.uri],
            session=ctx.session,
        )
    return Outcome.DONE


def _answered_follow(ctx: ProcessingContext, activity: dict[str, Any]) -> Follow | Relay | None:
    """The follow of ours that an Accept or Reject answers, if its signer may answer it."""
    answered = activity.get("object")
    answered_id = _id(answered)
    row = None
    if answered_id is not None:
        row = ctx.session.exec(select(Follow).where(Follow.activity_id == answered_id)).first()
        if row is None:
            relay = ctx.session.exec(select(Relay).where(Relay.follow_activity_id == answered_id)).first()
            if relay is not None:
                # Only the relay itself (the origin of its inbox) may answer the subscription.
                if addressing.origin(ctx.actor_uri) != addressing.origin(relay.inbox_url):
                    log.warning("ignored an answer to a relay subscription from %s", ctx.actor_uri)
                    return None
                return relay
    if row is None and isinstance(answered, dict):
        # Some servers answer with a Follow of their own making whose actor and object are the pair.
        follower_uri, followee_uri = _id(answered.get("actor")), _id(answered.get("object"))
        if follower_uri and followee_uri:
            row = find_follow(follower_uri, followee_uri, session=ctx.session)
    if row is None:
        return None
    if row.followee_uri != ctx.actor_uri or not local.is_local(ctx.settings, row.follower_uri):
        log.warning(
            "ignored %s from %s for a follow it is not the followee of", activity.get("type"), ctx.actor_uri
        )
        return None
    return row


def _answer(ctx: ProcessingContext, activity: dict[str, Any], accepted: bool) -> Outcome | None:
    """Record the followee's answer (``Accept`` or ``Reject``) to a follow or relay subscription of ours."""
    row = _answered_follow(ctx, activity)
    if row is None:
        return Outcome.IGNORED
    if isinstance(row, Relay):
        row.state = (RelayState.ACCEPTED if accepted else RelayState.REJECTED).value
        row.actor_uri = ctx.actor_uri
    else:
        row.state = (FollowState.ACCEPTED if accepted else FollowState.REJECTED).value
        row.updated_at = utcnow()
    ctx.session.add(row)
    return Outcome.DONE


@handles("Accept")
def on_accept(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome | None:
    return _answer(ctx, activity, accepted=True)


@handles("Reject")
def on_reject(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome | None:
    return _answer(ctx, activity, accepted=False)


@handles("Undo")
def on_undo(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome | None:
    undone = activity.get("object")
    undone_id = _id(undone)
    if isinstance(undone, dict) and undone.get("type") not in (None, "Follow"):
        return Outcome.IGNORED  # other undos are for other handlers
    query = select(Follow).where(Follow.follower_uri == ctx.actor_uri)
    row = None
    if undone_id is not None:
        row = ctx.session.exec(query.where(Follow.activity_id == undone_id)).first()
    if row is None and isinstance(undone, dict) and (target := _id(undone.get("object"))):
        row = ctx.session.exec(query.where(Follow.followee_uri == target)).first()
    if row is None:
        return Outcome.IGNORED
    ctx.session.delete(row)
    return Outcome.DONE


def forget_follows_of(actor_uri: str, *, session: Session) -> int:
    """Drop every follow involving ``actor_uri`` (an actor deleted or gone)."""
    result = session.execute(
        delete(Follow).where(
            (col(Follow.follower_uri) == actor_uri) | (col(Follow.followee_uri) == actor_uri)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
