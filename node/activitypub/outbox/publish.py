"""Publishing: an activity of a local actor becomes one outbox row and one delivery row per inbox.

:func:`publish` only writes, in the caller's transaction: the activity takes effect and is queued for
delivery together or not at all, and nothing is sent until a worker claims the deliveries
(:mod:`node.activitypub.outbox.delivery`). Recipients are expanded here, once:

- followers: accepted follows of the actor, through the cache of remote actors, each to its shared
  inbox when it has one, else to its own inbox;
- explicit recipients (actor URIs): a cached actor to its (shared) inbox; an actor not in the cache to
  a delivery whose ``target`` is its URI and ``inbox_url`` NULL, resolved by the worker;
- explicit inbox URLs (relays).

Each inbox gets one delivery per activity. Our own actors, actors known to be gone and blocked
domains (a block covers the domain's subdomains and ports, see :mod:`node.activitypub.actors.remote`) get
none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.actors.remote import covered_domains, domain_blocked
from node.activitypub.addressing import AS_CONTEXT, PUBLIC_ADDRESSES, origin_of
from node.activitypub.models import (
    Delivery,
    DeliveryState,
    Follow,
    FollowState,
    OutboxActivity,
    RemoteActor,
)
from node.activitypub.outbox.delivery import states_leading_to
from node.core.timeutil import isoformat, utcnow
from node.settings import Settings


class _Targets:
    """The inboxes of one activity, deduplicated, with the checks every recipient goes through."""

    def __init__(self, settings: Settings, *, session: Session) -> None:
        self.session = session
        self.settings = settings
        self.rows: dict[str, str | None] = {}  # target -> inbox URL (None: to resolve)
        self._blocked: dict[str, bool] = {}

    def _refused(self, uri: str) -> bool:
        if origin_of(uri) is None or local.is_local(self.settings, uri):
            return True
        domain = addressing.domain_of(uri)
        if domain not in self._blocked:
            self._blocked[domain] = domain_blocked(self.session, domain)
        return self._blocked[domain]

    def add_inbox(self, inbox: str) -> None:
        if not self._refused(inbox):
            self.rows.setdefault(inbox, inbox)

    def add_actor(self, uri: str, cached: tuple[str, str | None] | None) -> None:
        """``cached`` is ``(inbox, shared inbox)`` of a cached actor that is not gone, else None."""
        if self._refused(uri):
            return
        if cached is None:
            self.rows.setdefault(uri, None)
        else:
            inbox, shared = cached
            self.add_inbox(shared or inbox)


def _cached_actors(uris: list[str], *, session: Session) -> dict[str, tuple[str, str | None] | None]:
    """``uri -> (inbox, shared inbox)`` for cached actors; ``uri -> None`` for those that are gone."""
    found: dict[str, tuple[str, str | None] | None] = {}
    for start in range(0, len(uris), 500):
        rows = session.exec(
            select(
                col(RemoteActor.uri),
                col(RemoteActor.inbox),
                col(RemoteActor.shared_inbox),
                col(RemoteActor.gone_at),
            ).where(col(RemoteActor.uri).in_(uris[start : start + 500]))
        ).all()
        for uri, inbox, shared, gone_at in rows:
            found[uri] = None if gone_at is not None else (inbox, shared)
    return found


def _followers(actor: LocalActor, *, session: Session) -> list[tuple[str, tuple[str, str | None] | None]]:
    """``(follower URI, (inbox, shared inbox) or None when not cached)`` of accepted followers not gone."""
    rows = session.exec(
        select(col(Follow.follower_uri), col(RemoteActor.inbox), col(RemoteActor.shared_inbox))
        .select_from(Follow)
        .outerjoin(RemoteActor, col(RemoteActor.uri) == col(Follow.follower_uri))
        .where(
            col(Follow.followee_uri) == actor.uri,
            col(Follow.state) == FollowState.ACCEPTED.value,
            col(RemoteActor.gone_at).is_(None),
        )
        .order_by(col(Follow.id))
    ).all()
    return [(uri, None if inbox is None else (inbox, shared)) for uri, inbox, shared in rows]


def _object_id(activity: dict[str, Any]) -> str | None:
    value = activity.get("object")
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def stamp(settings: Settings, actor: LocalActor, activity: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``activity`` with ``@context``, ``id``, ``actor`` and ``published`` filled in."""
    if not isinstance(activity.get("type"), str) or not activity["type"]:
        raise ValueError("an activity needs a type")
    given_actor = activity.get("actor")
    if isinstance(given_actor, dict):
        given_actor = given_actor.get("id")
    if given_actor is not None and given_actor != actor.uri:
        raise ValueError(f"the activity's actor {given_actor!r} is not {actor.uri}")
    document: dict[str, Any] = {"@context": activity.get("@context", AS_CONTEXT)}
    document.update(activity)
    document.setdefault("id", local.new_activity_id(settings))
    document["actor"] = actor.uri
    document.setdefault("published", isoformat(utcnow()))
    if not isinstance(document["id"], str) or not local.is_local(settings, document["id"]):
        raise ValueError(f"the activity id {document['id']!r} is not one of this node's")
    return document


def publish(
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
    """Store ``activity`` in ``actor``'s outbox and queue one delivery per distinct inbox.

    Writes in ``session``'s transaction and sends nothing. ``recipients`` are actor URIs (the public
    collection and our own actors are skipped), ``inboxes`` inbox URLs (relays); ``public`` lists the
    activity in the actor's outbox collection.
    """
    document = stamp(settings, actor, activity)
    targets = _Targets(settings, session=session)
    if to_followers:
        for uri, cached in _followers(actor, session=session):
            targets.add_actor(uri, cached)
    wanted = [uri for uri in dict.fromkeys(recipients) if uri not in PUBLIC_ADDRESSES]
    if wanted:
        known = _cached_actors(wanted, session=session)
        for uri in wanted:
            if uri in known and known[uri] is None:
                continue  # gone
            targets.add_actor(uri, known.get(uri))
    for inbox in inboxes:
        targets.add_inbox(inbox)

    now = utcnow()
    row = OutboxActivity(
        activity_id=document["id"],
        actor_uri=actor.uri,
        type=document["type"][:40],
        object_id=_object_id(document),
        payload=json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        public=public,
        created_at=now,
    )
    session.add(row)
    session.flush()
    if targets.rows:
        session.execute(
            insert(Delivery),
            [
                {
                    "outbox_id": row.id,
                    "target": target,
                    "inbox_url": inbox,
                    "domain": addressing.domain_of(inbox or target),
                    "state": DeliveryState.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for target, inbox in targets.rows.items()
            ],
        )
    return row


def cancel_for_domain(domain: str, *, session: Session) -> int:
    """Cancel the deliveries of ``domain`` not yet done (used when it is blocked); how many."""
    domain = domain.strip().lower()
    result = session.execute(
        update(Delivery)
        .where(
            covered_domains(col(Delivery.domain), domain),
            col(Delivery.state).in_(states_leading_to(DeliveryState.CANCELLED)),
        )
        .values(
            state=DeliveryState.CANCELLED.value,
            lease_until=None,
            last_error="domain blocked",
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
