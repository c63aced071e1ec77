"""Follows between actors of any server: asking, answering, undoing, and the rows that record them.

:func:`follow`, :func:`unfollow`, :func:`accept_request`, :func:`reject_request` and
:func:`remove_follower` write the ``follows`` row and publish the activity in the same transaction.
A follow is ``pending`` until the followee accepts it (:data:`~node.activitypub.lifecycles.FOLLOW_LIFECYCLE`);
:func:`initial_state` is the one rule of who waits: people accept automatically unless they chose to
approve followers, and the node actor always accepts (node-to-node following is how a node receives
another node's public activity). Following someone of this node federates nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.lifecycles import FOLLOW_LIFECYCLE
from node.activitypub.models import Follow, FollowState, RemoteActor
from node.activitypub.outbox.publish import publish
from node.core import limits
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings


def initial_state(followee: LocalActor) -> FollowState:
    """What a follow of ``followee`` becomes when asked: it waits only for people who approve followers."""
    return FollowState.PENDING if followee.approves_followers else FollowState.ACCEPTED


def move(row: Follow, state: FollowState) -> None:
    """Change the state of a follow along its declared lifecycle."""
    row.state = FOLLOW_LIFECYCLE.step(row.state, state).value
    row.updated_at = utcnow()


def follow_object(row: Follow) -> dict[str, Any]:
    """The ``Follow`` activity a row records, as ``Accept``, ``Reject`` and ``Undo`` embed it."""
    return {"id": row.activity_id, "type": "Follow", "actor": row.follower_uri, "object": row.followee_uri}


def find_follow(follower_uri: str, followee_uri: str, *, session: Session) -> Follow | None:
    """The follow of ``followee_uri`` by ``follower_uri``, if any."""
    return session.exec(
        select(Follow).where(
            col(Follow.follower_uri) == follower_uri, col(Follow.followee_uri) == followee_uri
        )
    ).first()


def by_activity_id(activity_id: str, *, session: Session) -> Follow | None:
    """The follow whose ``Follow`` activity is ``activity_id`` (ours, or someone's of us)."""
    return session.exec(select(Follow).where(col(Follow.activity_id) == activity_id)).first()


def follow_undone(
    follower_uri: str, activity_id: str | None, followee_uri: str | None, *, session: Session
) -> Follow | None:
    """The follow by ``follower_uri`` that an ``Undo`` names: by its activity id, else by its followee."""
    query = select(Follow).where(col(Follow.follower_uri) == follower_uri)
    row = session.exec(query.where(col(Follow.activity_id) == activity_id)).first() if activity_id else None
    if row is None and followee_uri is not None:
        row = session.exec(query.where(col(Follow.followee_uri) == followee_uri)).first()
    return row


def follow(
    settings: Settings,
    *,
    session: Session,
    follower: LocalActor,
    target: RemoteActor | LocalActor,
    counted: bool = True,
) -> Follow:
    """``follower`` asks to follow ``target``: a remote actor (pending until it accepts), or someone of
    this node (:func:`initial_state`; nothing to federate). ``counted``: against the person's daily
    limit (not when the follow moves with an account that moved)."""
    if counted and follower.user_id is not None:
        limits.hit(settings, "follows per person per day", follower.user_id, session=session)
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
    else:
        move(existing, FollowState.PENDING)
    existing.activity_id = activity_id
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
    row = Follow(
        follower_uri=follower.uri,
        followee_uri=target.uri,
        activity_id=local.new_activity_id(settings),
        local_follower_id=follower.user_id,
        local_followee_id=target.user_id,
        state=initial_state(target).value,
    )
    session.add(row)
    session.flush()
    return row


def receive_follow(followee: LocalActor, follower_uri: str, activity_id: str, *, session: Session) -> Follow:
    """Record a remote actor's ``Follow`` of ``followee`` (a new one, or asked again)."""
    row = find_follow(follower_uri, followee.uri, session=session)
    if row is None:
        row = Follow(
            follower_uri=follower_uri,
            followee_uri=followee.uri,
            activity_id=activity_id,
            local_followee_id=followee.user_id,
            state=initial_state(followee).value,
        )
    else:
        row.activity_id = activity_id
        if row.state != FollowState.ACCEPTED:
            move(row, initial_state(followee))
        row.updated_at = utcnow()
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
        activity={"type": "Undo", "object": follow_object(row)},
        recipients=[target_uri],
        session=session,
    )
    session.delete(row)


def local_follows_of(followee_uri: str, *, session: Session) -> Sequence[Follow]:
    """Our people's follows of ``followee_uri``, accepted or waiting."""
    return session.exec(
        select(Follow)
        .where(
            col(Follow.followee_uri) == followee_uri,
            col(Follow.local_follower_id).is_not(None),
            col(Follow.state).in_([FollowState.ACCEPTED.value, FollowState.PENDING.value]),
        )
        .order_by(col(Follow.id))
    ).all()


def followers_waiting(followee: LocalActor, *, session: Session) -> Sequence[Follow]:
    """The pending follow requests of ``followee``, oldest first."""
    return session.exec(
        select(Follow)
        .where(col(Follow.followee_uri) == followee.uri, col(Follow.state) == FollowState.PENDING.value)
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
    move(row, FollowState.ACCEPTED)
    session.add(row)
    publish(
        settings,
        actor=followee,
        activity={"type": "Accept", "object": follow_object(row)},
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
        activity={"type": "Reject", "object": follow_object(row)},
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
        activity={"type": "Reject", "object": follow_object(row)},
        recipients=[follower_uri],
        session=session,
    )
    session.delete(row)


def accepted_followers(followee_uri: str, *, session: Session) -> list[str]:
    """The URIs of those whose follow of ``followee_uri`` is accepted, in the order they followed."""
    rows = session.exec(
        select(Follow.follower_uri)
        .where(col(Follow.followee_uri) == followee_uri, col(Follow.state) == FollowState.ACCEPTED.value)
        .order_by(col(Follow.id))
    ).all()
    return list(rows)


def accepted_followees(follower_uri: str, *, session: Session) -> list[str]:
    """The URIs that ``follower_uri`` follows, accepted."""
    rows = session.exec(
        select(Follow.followee_uri).where(
            col(Follow.follower_uri) == follower_uri, col(Follow.state) == FollowState.ACCEPTED.value
        )
    ).all()
    return list(rows)


def outgoing(*, session: Session, follower_uri: str | None = None, local_only: bool = True) -> list[Follow]:
    """The follows made from this node, oldest first: those of ``follower_uri`` when given, else of
    every local follower (the node actor and people) whose followee is on another server."""
    query = select(Follow).order_by(col(Follow.created_at), col(Follow.id))
    if follower_uri is not None:
        query = query.where(col(Follow.follower_uri) == follower_uri)
    if local_only:
        query = query.where(col(Follow.local_followee_id).is_(None))
    return list(session.exec(query).all())


def follows_of(actor_uri: str, *, session: Session) -> list[tuple[str, str]]:
    """``(followee URI, state)`` of every follow by ``actor_uri``, oldest first."""
    rows = session.exec(
        select(Follow.followee_uri, Follow.state)
        .where(col(Follow.follower_uri) == actor_uri)
        .order_by(col(Follow.created_at))
    ).all()
    return [(uri, state) for uri, state in rows]


def followers_of(actor_uri: str, *, session: Session) -> list[tuple[str, str]]:
    """``(follower URI, state)`` of every follow of ``actor_uri``, oldest first."""
    rows = session.exec(
        select(Follow.follower_uri, Follow.state)
        .where(col(Follow.followee_uri) == actor_uri)
        .order_by(col(Follow.created_at))
    ).all()
    return [(uri, state) for uri, state in rows]


def forget_follows_of(actor_uri: str, *, session: Session) -> int:
    """Drop every follow involving ``actor_uri`` (an actor deleted or gone)."""
    result = session.execute(
        delete(Follow).where(
            (col(Follow.follower_uri) == actor_uri) | (col(Follow.followee_uri) == actor_uri)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
