"""Who receives what the node publishes in public: the author's followers, the nodes that follow this
node, and the relays."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.addressing import PUBLIC
from node.activitypub.outbox.publish import publish
from node.activitypub.social import follows, relays
from node.settings import Settings


def public_audience(settings: Settings, *, session: Session) -> tuple[list[str], list[str]]:
    """Who also receives every public activity of the node: the node actor's followers (other nodes)
    and the accepted relays' inboxes, as ``(actor URIs, inbox URLs)``."""
    node_followers = follows.accepted_followers(local.node_actor(settings).uri, session=session)
    return node_followers, relays.accepted_inboxes(session=session)


def publish_public(
    settings: Settings, *, session: Session, actor: LocalActor, activity: dict[str, Any]
) -> None:
    """Publish a public activity: to the actor's followers, the node's followers and the relays."""
    node_followers, inboxes = public_audience(settings, session=session)
    document = dict(activity)
    document.setdefault("to", [PUBLIC])
    document.setdefault("cc", [actor.followers])
    publish(
        settings,
        actor=actor,
        activity=document,
        to_followers=True,
        recipients=node_followers,
        inboxes=inboxes,
        public=True,
        session=session,
    )
