"""Publishing as a ``Group`` actor, as FEP-1b12 describes it: what a group publishes goes out as the
group's ``Announce`` of the original activity.

:func:`publish_as` is :func:`~node.activitypub.outbox.publish.publish` for any of our actors: people and the
node publish their activity as it is; a group stores the activity in its outbox (undelivered, so that it
can be served by its id) and sends an ``Announce`` wrapping it, unchanged, to the recipients. The activity
and its object carry the group in ``audience`` (FEP-1b12). :func:`is_group_announce` tells a group's
``Announce`` of an activity from other shares (a relay's ``Announce`` of an object).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from node.activitypub import vocab
from node.activitypub.actors.local import LocalActor
from node.activitypub.addressing import AS_CONTEXT, types_of
from node.activitypub.models import OutboxActivity
from node.activitypub.outbox.publish import publish, stamp
from node.settings import Settings


def _with_audience(document: dict[str, Any], group: str) -> dict[str, Any]:
    audience = document.get("audience")
    listed = audience if isinstance(audience, list) else [audience] if isinstance(audience, str) else []
    if group not in listed:
        document["audience"] = [*listed, group] if listed else group
    return document


def announce_of(group: LocalActor, inner: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Announce`` by ``group`` of the stamped activity ``inner``, addressed as ``inner`` is."""
    announce: dict[str, Any] = {
        "@context": inner.get("@context", AS_CONTEXT),
        "type": "Announce",
        "object": dict(inner),
        "audience": group.uri,
    }
    for name in ("to", "cc"):
        if name in inner:
            announce[name] = inner[name]
    return announce


def publish_as(
    settings: Settings,
    *,
    session: Session,
    actor: LocalActor,
    activity: dict[str, Any],
    to_followers: bool = False,
    recipients: Iterable[str] = (),
    inboxes: Iterable[str] = (),
    public: bool = False,
) -> OutboxActivity:
    """Publish ``activity`` of ``actor``: as it is for people and the node; for a group, the activity is
    kept in the group's outbox and its ``Announce`` goes to the recipients (FEP-1b12)."""
    if actor.kind != "Group":
        return publish(
            settings,
            actor=actor,
            activity=activity,
            to_followers=to_followers,
            recipients=recipients,
            inboxes=inboxes,
            public=public,
            session=session,
        )
    document = _with_audience(dict(activity), actor.uri)
    if isinstance(document.get("object"), dict):
        document["object"] = _with_audience(dict(document["object"]), actor.uri)
    inner = stamp(settings, actor, document)
    publish(settings, actor=actor, activity=inner, session=session)
    return publish(
        settings,
        actor=actor,
        activity=announce_of(actor, inner),
        to_followers=to_followers,
        recipients=recipients,
        inboxes=inboxes,
        public=public,
        session=session,
    )


def is_group_announce(activity: vocab.Activity) -> bool:
    """Whether ``activity`` is an ``Announce`` of an embedded activity (what groups send), rather than the
    share of an object (a relay's or a person's boost)."""
    if activity.type != "Announce" or activity.object is None:
        return False
    return any(kind in vocab.ACTIVITY_KINDS for kind in types_of(activity.object))
