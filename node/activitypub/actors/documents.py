"""Our actors and their collections as ActivityStreams documents, and the reads behind them.

Rendering is pure (:func:`person_document`, :func:`node_document`, :func:`collection_document`,
:func:`collection_page_document`). The ``load_*`` functions read what a document needs in the caller's
session; they create an actor's key pair on first use only when told they may write (``create_key``),
and raise :class:`KeyMissing` otherwise, so that the common case stays a read-only transaction.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.activitypub import keys
from node.activitypub.actors import local
from node.activitypub.actors.local import Account, Accounts, LocalActor
from node.activitypub.addressing import AS_CONTEXT, SECURITY_CONTEXT, is_public
from node.activitypub.models import Follow, FollowState, OutboxActivity
from node.core.timeutil import isoformat
from node.settings import Settings

log = logging.getLogger("asasap.activitypub")

# Extension terms are defined inline: peers never have to fetch a context of ours.
ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "asasap": "https://w3id.org/asasap/ns#",
        "evaluations": {"@id": "asasap:evaluations", "@type": "@id"},
    },
]
PAGE_SIZE = 20
MAX_PAGE_DIGITS = 30
CollectionName = Literal["outbox", "followers", "following"]
COLLECTIONS: tuple[CollectionName, ...] = ("outbox", "followers", "following")


class KeyMissing(Exception):
    """The actor has no key pair yet and this transaction may not create one."""


# --- rendering ----------------------------------------------------------------------------------


def summary_html(text: str) -> str:
    """Plain text (a bio) as the HTML ActivityStreams expects: escaped, one ``<p>`` per paragraph."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs if p
    )


def actor_document(
    settings: Settings,
    actor: LocalActor,
    *,
    name: str,
    summary: str,
    url: str,
    public_key_pem: str,
    published: datetime | None = None,
    manually_approves_followers: bool = False,
    discoverable: bool = True,
    icon_url: str | None = None,
) -> dict[str, Any]:
    """The ActivityStreams document of one of our actors."""
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": actor.uri,
        "type": actor.kind,
        "preferredUsername": actor.username,
        "name": name,
        "summary": summary,
        "url": url,
        "inbox": actor.inbox,
        "outbox": actor.outbox,
        "followers": actor.followers,
        "following": actor.following,
        "endpoints": {"sharedInbox": local.shared_inbox(settings)},
        "publicKey": {"id": actor.key_id, "owner": actor.uri, "publicKeyPem": public_key_pem},
        "manuallyApprovesFollowers": manually_approves_followers,
        "discoverable": discoverable,
    }
    if published is not None:
        document["published"] = isoformat(published)
    if icon_url:
        document["icon"] = {"type": "Image", "url": icon_url}
    return document


def person_document(
    settings: Settings, account: Account, public_key_pem: str, *, icon_url: str | None = None
) -> dict[str, Any]:
    """The ``Person`` of ``account``; its ``url`` (the HTML profile) is the actor URL itself, and its
    ``evaluations`` collection lists the published evaluations of the person."""
    actor = local.person(settings, account)
    document = actor_document(
        settings,
        actor,
        name=account.display_name or account.username,
        summary=summary_html(account.bio),
        url=actor.uri,
        public_key_pem=public_key_pem,
        published=account.created_at,
        manually_approves_followers=account.approve_followers,
        icon_url=icon_url,
    )
    document["evaluations"] = actor.uri + "/evaluations"
    return document


def node_summary(settings: Settings) -> str:
    """The node actor's summary: the territory it serves and its mode."""
    parts = [settings.territory.strip(), settings.mode.value]
    return summary_html(" · ".join(p for p in parts if p))


def node_document(settings: Settings, public_key_pem: str) -> dict[str, Any]:
    """The node's own ``Application`` actor."""
    return actor_document(
        settings,
        local.node_actor(settings),
        name=settings.node_name,
        summary=node_summary(settings),
        url=settings.url("/"),
        public_key_pem=public_key_pem,
        discoverable=False,  # a service actor, not someone to suggest to people
    )


def page_url(collection_id: str, page: int) -> str:
    return f"{collection_id}?page={page}"


def collection_document(collection_id: str, total_items: int) -> dict[str, Any]:
    """An ``OrderedCollection`` that links its first page and holds no items itself."""
    return {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total_items,
        "first": page_url(collection_id, 1),
    }


def collection_page_document(
    collection_id: str, page: int, total_items: int, items: list[Any]
) -> dict[str, Any]:
    """Page ``page`` (from 1) of a collection of ``total_items`` split in pages of :data:`PAGE_SIZE`."""
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": page_url(collection_id, page),
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "totalItems": total_items,
        "orderedItems": items,
    }
    if page * PAGE_SIZE < total_items:
        document["next"] = page_url(collection_id, page + 1)
    if page > 1:
        document["prev"] = page_url(collection_id, page - 1)
    return document


def parse_page(value: str | None) -> int | None:
    """The ``page`` query parameter: None when absent, a number from 1; ValueError otherwise."""
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > MAX_PAGE_DIGITS:
        raise ValueError("page must be a positive integer")
    page = int(value)
    if page < 1:
        raise ValueError("page must be a positive integer")
    return page


# --- reads --------------------------------------------------------------------------------------


def public_key_pem(settings: Settings, actor: LocalActor, *, session: Session, create: bool) -> str:
    """The PEM of ``actor``'s current public key; with ``create``, a first key pair is made if needed."""
    if create:
        row = keys.ensure_key(
            actor.key_owner, settings.effective_secret_key, user_id=actor.user_id, session=session
        )
        return row.public_pem
    current = keys.current_key(actor.key_owner, session=session)
    if current is None:
        raise KeyMissing(actor.uri)
    return current.public_pem


def load_node_document(settings: Settings, *, session: Session, create_key: bool) -> dict[str, Any]:
    """The node actor's document."""
    pem = public_key_pem(settings, local.node_actor(settings), create=create_key, session=session)
    return node_document(settings, pem)


def resolve_actor(
    settings: Settings, username: str | None, *, session: Session, accounts: Accounts
) -> LocalActor | None:
    """The node actor (``username`` None) or an active person's actor, else None."""
    if username is None:
        return local.node_actor(settings)
    account = accounts.find(username, session=session)
    return local.person(settings, account) if account is not None else None


def _follow_query(actor: LocalActor, name: CollectionName) -> tuple[Any, Any]:
    """``(where clause, selected column)`` of the accepted follows listed in ``name``."""
    accepted = col(Follow.state) == FollowState.ACCEPTED.value
    if name == "followers":
        return (col(Follow.followee_uri) == actor.uri) & accepted, col(Follow.follower_uri)
    return (col(Follow.follower_uri) == actor.uri) & accepted, col(Follow.followee_uri)


def count_items(actor: LocalActor, name: CollectionName, *, session: Session) -> int:
    """How many items the collection ``name`` of ``actor`` holds."""
    if name == "outbox":
        where = (col(OutboxActivity.actor_uri) == actor.uri) & col(OutboxActivity.public)
        return int(session.exec(select(func.count()).select_from(OutboxActivity).where(where)).one())
    where, _ = _follow_query(actor, name)
    return int(session.exec(select(func.count()).select_from(Follow).where(where)).one())


def _outbox_items(actor: LocalActor, *, session: Session, offset: int, limit: int) -> list[Any]:
    rows = session.exec(
        select(OutboxActivity.payload)
        .where(col(OutboxActivity.actor_uri) == actor.uri, col(OutboxActivity.public))
        .order_by(col(OutboxActivity.created_at).desc(), col(OutboxActivity.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    items = []
    for payload in rows:
        try:
            items.append(json.loads(payload))
        except ValueError:
            log.error("outbox row of %s holds invalid JSON; left out of the collection", actor.uri)
    return items


def public_activity(activity_id: str, *, session: Session) -> tuple[str, dict[str, Any]] | None:
    """The actor and the document of an activity published here, when it is public (listed in its
    actor's outbox, addressed to the public, or the object of its actor's public ``Announce``): what its
    id may serve to anyone; None otherwise."""
    row = session.exec(select(OutboxActivity).where(col(OutboxActivity.activity_id) == activity_id)).first()
    if row is None:
        return None
    try:
        document = json.loads(row.payload)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    addressed = [a for name in ("to", "cc") for a in _as_list(document.get(name))]
    if row.public or any(is_public(a) for a in addressed):
        return row.actor_uri, document
    announced = session.exec(
        select(OutboxActivity.id).where(
            col(OutboxActivity.object_id) == activity_id,
            col(OutboxActivity.actor_uri) == row.actor_uri,
            col(OutboxActivity.type) == "Announce",
            col(OutboxActivity.public),
        )
    ).first()
    return (row.actor_uri, document) if announced is not None else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def load_items(
    actor: LocalActor, name: CollectionName, *, session: Session, offset: int, limit: int
) -> list[Any]:
    """Items of a collection, newest first: stored activities for the outbox, actor URIs otherwise."""
    if name == "outbox":
        return _outbox_items(actor, offset=offset, limit=limit, session=session)
    where, column = _follow_query(actor, name)
    statement = select(column).where(where).order_by(col(Follow.id).desc()).offset(offset).limit(limit)
    return list(session.exec(statement).all())


def load_collection(
    settings: Settings,
    username: str | None,
    name: CollectionName,
    page: int | None,
    *,
    session: Session,
    accounts: Accounts,
) -> dict[str, Any] | None:
    """The collection ``name`` of a person (or of the node when ``username`` is None), or one page of
    it; None when there is no such active actor."""
    actor = resolve_actor(settings, username, session=session, accounts=accounts)
    if actor is None:
        return None
    collection_id = f"{actor.uri}/{name}"
    total = count_items(actor, name, session=session)
    if page is None:
        return collection_document(collection_id, total)
    offset = (page - 1) * PAGE_SIZE
    # Pages past the end are empty; they never reach the database (whose offsets are bounded).
    items = (
        [] if offset >= total else load_items(actor, name, offset=offset, limit=PAGE_SIZE, session=session)
    )
    return collection_page_document(collection_id, page, total, items)
