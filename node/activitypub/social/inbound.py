"""What the social graph does with incoming activities: its kinds, how it recognises them, and its
handlers, contributed to the node's dispatcher by :func:`inbox_handlers`.

Kinds (:func:`classify`):

- ``follow``: a ``Follow`` of one of our actors: recorded, and answered ``Accept(Follow)`` at once
  unless the person approves followers;
- ``follow-accepted``/``follow-rejected``: the answer to a follow or a relay subscription of ours
  (the ``Follow`` embedded, or the id of one we sent); it counts only when its signer is the followee
  (for a relay: the origin of the relay's inbox);
- ``follow-undone``: ``Undo`` of a follow (embedded, or the id of one we hold), only from its follower;
- ``actor-updated``: ``Update`` of the signer itself: the cached actor is refetched;
- ``actor-deleted``: ``Delete`` of the signer itself: the cached actor and every follow involving it
  are dropped. Other packages act on it too (the marketplace withdraws the actor's proposals);
- ``actor-moved``: ``Move`` of the signer itself to a new account that lists it in ``alsoKnownAs``: our
  people's follows move to the new account (:mod:`node.activitypub.social.moves`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from node.activitypub.actors import local, remote
from node.activitypub.actors.local import Accounts, Groups
from node.activitypub.addressing import id_of, origin, types_of
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.models import Follow, FollowState, Relay
from node.activitypub.outbox.publish import publish
from node.activitypub.social import follows, moves, relays
from node.activitypub.vocab import Activity

log = logging.getLogger("asasap.federation")

FOLLOW = "follow"
FOLLOW_ACCEPTED = "follow-accepted"
FOLLOW_REJECTED = "follow-rejected"
FOLLOW_UNDONE = "follow-undone"
ACTOR_UPDATED = "actor-updated"
ACTOR_DELETED = "actor-deleted"
ACTOR_MOVED = "actor-moved"
KINDS = frozenset(
    {FOLLOW, FOLLOW_ACCEPTED, FOLLOW_REJECTED, FOLLOW_UNDONE, ACTOR_UPDATED, ACTOR_DELETED, ACTOR_MOVED}
)
TYPES = frozenset({"Follow", "Accept", "Reject", "Undo", "Update", "Delete", "Move"})


def _held_follow(activity_id: str, *, session: Session) -> bool:
    """Whether ``activity_id`` is a follow we hold (ours or someone's of us) or a relay subscription."""
    if follows.by_activity_id(activity_id, session=session) is not None:
        return True
    return relays.by_subscription(activity_id, session=session) is not None


def _about_a_follow(ctx: ProcessingContext, activity: Activity) -> bool:
    """An embedded ``Follow`` (or an embedded object without a type), or the id of a follow we hold."""
    if activity.object is not None:
        kinds = types_of(activity.object)
        return not kinds or "Follow" in kinds
    return activity.object_id is not None and _held_follow(activity.object_id, session=ctx.session)


def classify(ctx: ProcessingContext, activity: Activity) -> str | None:
    """The social graph's kind of ``activity`` (see the module docs), or None when it is not about it."""
    kind = activity.type
    if kind == "Follow":
        return FOLLOW
    if kind in ("Update", "Delete"):
        if activity.object_id != ctx.actor_uri:
            return None
        return ACTOR_UPDATED if kind == "Update" else ACTOR_DELETED
    if kind == "Move":
        return ACTOR_MOVED if moves.is_move_of_self(ctx, activity) else None
    if kind in ("Accept", "Reject", "Undo") and _about_a_follow(ctx, activity):
        return {"Accept": FOLLOW_ACCEPTED, "Reject": FOLLOW_REJECTED, "Undo": FOLLOW_UNDONE}[kind]
    return None


def on_follow(
    ctx: ProcessingContext, activity: Activity, *, accounts: Accounts, groups: Groups | None = None
) -> Outcome:
    """Record a remote actor's follow of one of our active actors, and accept it unless it must wait."""
    if activity.object_id is None:
        raise PermanentFailure("Follow without an object")
    followee = local.actor_at(
        ctx.settings, activity.object_id, session=ctx.session, accounts=accounts, groups=groups
    )
    if followee is None:
        return Outcome.IGNORED  # not one of ours, or not active
    follower = ctx.actor(ctx.actor_uri)
    row = follows.receive_follow(followee, follower.uri, activity.id, session=ctx.session)
    if row.state == FollowState.ACCEPTED:
        publish(
            ctx.settings,
            actor=followee,
            activity={"type": "Accept", "object": follows.follow_object(row)},
            recipients=[follower.uri],
            session=ctx.session,
        )
    return Outcome.DONE


def _answered(ctx: ProcessingContext, activity: Activity) -> Follow | Relay | None:
    """The follow of ours that an Accept or Reject answers, if its signer may answer it."""
    answered: Mapping[str, Any] | None = activity.object
    row = None
    if activity.object_id is not None:
        row = follows.by_activity_id(activity.object_id, session=ctx.session)
        if row is None:
            relay = relays.by_subscription(activity.object_id, session=ctx.session)
            if relay is not None:
                # Only the relay itself (the origin of its inbox) may answer the subscription.
                if origin(ctx.actor_uri) != origin(relay.inbox_url):
                    log.warning("ignored an answer to a relay subscription from %s", ctx.actor_uri)
                    return None
                return relay
    if row is None and answered is not None:
        # Some servers answer with a Follow of their own making whose actor and object are the pair.
        follower_uri, followee_uri = id_of(answered.get("actor")), id_of(answered.get("object"))
        if follower_uri and followee_uri:
            row = follows.find_follow(follower_uri, followee_uri, session=ctx.session)
    if row is None:
        return None
    if row.followee_uri != ctx.actor_uri or not local.is_local(ctx.settings, row.follower_uri):
        log.warning("ignored %s from %s for a follow it is not the followee of", activity.type, ctx.actor_uri)
        return None
    return row


def _answer(ctx: ProcessingContext, activity: Activity, *, accepted: bool) -> Outcome:
    """Record the followee's answer (``Accept`` or ``Reject``) to a follow or relay subscription of ours."""
    row = _answered(ctx, activity)
    if row is None:
        return Outcome.IGNORED
    if isinstance(row, Relay):
        relays.answered(row, ctx.actor_uri, accepted=accepted)
    else:
        follows.move(row, FollowState.ACCEPTED if accepted else FollowState.REJECTED)
    ctx.session.add(row)
    return Outcome.DONE


def on_accept(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The followee accepted a follow (or a relay our subscription)."""
    return _answer(ctx, activity, accepted=True)


def on_reject(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The followee refused a follow, or removed a follower it had accepted."""
    return _answer(ctx, activity, accepted=False)


def on_undo(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """The follower stopped following."""
    followee = id_of(activity.object.get("object")) if activity.object is not None else None
    row = follows.follow_undone(ctx.actor_uri, activity.object_id, followee, session=ctx.session)
    if row is None:
        return Outcome.IGNORED
    ctx.session.delete(row)
    return Outcome.DONE


def on_actor_updated(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """An actor updated itself: refetch it from its origin into the cache."""
    ctx.refresh_actor(ctx.actor_uri)
    return Outcome.DONE


def on_actor_deleted(ctx: ProcessingContext, activity: Activity) -> Outcome:
    """An actor deleted itself: drop what we hold of it (cached actor, follows both ways)."""
    uri = ctx.actor_uri
    remote.forget_actor(uri, session=ctx.session)
    follows.forget_follows_of(uri, session=ctx.session)
    log.info("deleted what we held of %s", uri)
    return Outcome.DONE


def inbox_handlers(accounts: Accounts, groups: Groups | None = None) -> Contribution:
    """The social graph's part of the node's dispatcher; ``accounts`` finds the people followed and
    ``groups`` the groups (which accept every follow, as FEP-1b12 asks)."""

    def follow(ctx: ProcessingContext, activity: Activity) -> Outcome:
        return on_follow(ctx, activity, accounts=accounts, groups=groups)

    def move(ctx: ProcessingContext, activity: Activity) -> Outcome:
        return moves.on_move(ctx, activity, accounts=accounts)

    return contribution(
        "social graph",
        types=TYPES,
        kinds=KINDS,
        classify=classify,
        handlers={
            FOLLOW: (follow,),
            FOLLOW_ACCEPTED: (on_accept,),
            FOLLOW_REJECTED: (on_reject,),
            FOLLOW_UNDONE: (on_undo,),
            ACTOR_UPDATED: (on_actor_updated,),
            ACTOR_DELETED: (on_actor_deleted,),
            ACTOR_MOVED: (move,),
        },
    )
