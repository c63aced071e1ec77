"""Relays: the node subscribes to Mastodon/LitePub-style relays, which pass on the public activity of
every node subscribed to them (:data:`~node.activitypub.lifecycles.RELAY_LIFECYCLE`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from node.activitypub.actors import local
from node.activitypub.addressing import PUBLIC
from node.activitypub.lifecycles import RELAY_LIFECYCLE
from node.activitypub.models import Relay, RelayState
from node.activitypub.outbox.publish import publish
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.settings import Settings


def add_relay(settings: Settings, inbox_url: str, *, session: Session) -> Relay:
    """Subscribe the node to a relay through its inbox."""
    inbox_url = inbox_url.strip()
    if not inbox_url.startswith(("https://", "http://")):
        raise ValidationFailed(
            N_("A relay is given by its inbox URL."), fields={"inbox": N_("Not an http(s) URL.")}
        )
    if session.exec(select(Relay.id).where(col(Relay.inbox_url) == inbox_url)).first() is not None:
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
    """Unsubscribe from a relay with ``Undo(Follow)``."""
    relay = session.exec(select(Relay).where(col(Relay.inbox_url) == inbox_url.strip())).first()
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
    """Every relay subscription, oldest first."""
    return session.exec(select(Relay).order_by(col(Relay.created_at))).all()


def by_subscription(activity_id: str, *, session: Session) -> Relay | None:
    """The relay whose subscription is the ``Follow`` ``activity_id``."""
    return session.exec(select(Relay).where(col(Relay.follow_activity_id) == activity_id)).first()


def answered(relay: Relay, actor_uri: str, *, accepted: bool) -> None:
    """Record the relay's answer to our subscription, and the actor that answered."""
    state = RelayState.ACCEPTED if accepted else RelayState.REJECTED
    relay.state = RELAY_LIFECYCLE.step(relay.state, state).value
    relay.actor_uri = actor_uri


def is_accepted_relay(actor_uri: str, *, session: Session) -> bool:
    """Whether ``actor_uri`` is a relay that accepted our subscription."""
    found = session.exec(
        select(Relay.id).where(
            col(Relay.actor_uri) == actor_uri, col(Relay.state) == RelayState.ACCEPTED.value
        )
    ).first()
    return found is not None


def accepted_inboxes(*, session: Session) -> list[str]:
    """The inboxes of the relays that accepted our subscription."""
    return list(
        session.exec(select(Relay.inbox_url).where(col(Relay.state) == RelayState.ACCEPTED.value)).all()
    )
