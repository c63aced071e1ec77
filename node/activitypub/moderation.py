"""Federation moderation: domain blocks and the list of known peers.

A block refuses the domain's requests at the inbox, cancels pending deliveries to it, drops the follows
that link us to it, and hides what we cached of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, update
from sqlmodel import Session, col, select

from node.activitypub.models import (
    Delivery,
    DeliveryState,
    DomainBlock,
    Follow,
    InboxActivity,
    InboxState,
    Peer,
    RemoteActor,
)
from node.core.errors import N_, Conflict, NotFound, ValidationFailed

DOMAIN_RE = re.compile(
    r"^(?=.{1,255}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$"
)


def normalise_domain(raw: str) -> str:
    """``Example.org``, ``https://example.org/path`` or ``example.org:8443`` → the domain we key on."""
    text = raw.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0]
    if text.startswith("@") or "@" in text:
        text = text.rsplit("@", 1)[1]
    if not DOMAIN_RE.match(text):
        raise ValidationFailed(
            N_("This is not a domain name."), fields={"domain": N_("This is not a domain name.")}
        )
    return text


def is_blocked(domain: str, *, session: Session) -> bool:
    return (
        session.exec(select(DomainBlock.id).where(DomainBlock.domain == domain.lower())).first() is not None
    )


@dataclass(frozen=True)
class BlockResult:
    domain: str
    cancelled_deliveries: int
    removed_follows: int
    dropped_inbox: int


def block_domain(raw_domain: str, *, session: Session, reason: str = "") -> BlockResult:
    """Block a domain and undo what links us to it."""
    domain = normalise_domain(raw_domain)
    if is_blocked(domain, session=session):
        raise Conflict(N_("This domain is already blocked."))
    session.add(DomainBlock(domain=domain, reason=reason.strip()[:500]))
    cancelled = session.exec(
        update(Delivery)
        .where(
            col(Delivery.domain) == domain,
            col(Delivery.state).in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )
        .values(state=DeliveryState.CANCELLED.value, last_error="domain blocked")
    ).rowcount
    removed = session.exec(
        delete(Follow).where(
            or_(*_on_domain(Follow.follower_uri, domain), *_on_domain(Follow.followee_uri, domain))
        )
    ).rowcount
    dropped = session.exec(
        update(InboxActivity)
        .where(
            or_(*_on_domain(InboxActivity.actor_uri, domain)), col(InboxActivity.state) == InboxState.PENDING
        )
        .values(state=InboxState.IGNORED.value, error="domain blocked")
    ).rowcount
    return BlockResult(domain, cancelled or 0, removed or 0, dropped or 0)


def _on_domain(column: str, domain: str) -> list[ColumnElement[bool]]:
    """Conditions matching URIs served from ``domain`` over http or https."""
    return [col(column).like(f"{scheme}://{domain}/%") for scheme in ("https", "http")]


def unblock_domain(raw_domain: str, *, session: Session) -> None:
    domain = normalise_domain(raw_domain)
    row = session.exec(select(DomainBlock).where(DomainBlock.domain == domain)).first()
    if row is None:
        raise NotFound(N_("This domain is not blocked."))
    session.delete(row)


def list_blocks(*, session: Session) -> Sequence[DomainBlock]:
    return session.exec(select(DomainBlock).order_by(col(DomainBlock.domain))).all()


@dataclass(frozen=True)
class PeerSummary:
    domain: str
    software: str
    version: str
    state: str
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failure_count: int
    actors: int
    pending_deliveries: int
    blocked: bool


def list_peers(*, session: Session) -> list[PeerSummary]:
    """Every server we know, with its software, state, last success and failures."""
    actors = dict(session.exec(select(RemoteActor.domain, func.count()).group_by(RemoteActor.domain)).all())
    pending = dict(
        session.exec(
            select(Delivery.domain, func.count())
            .where(col(Delivery.state).in_([DeliveryState.PENDING, DeliveryState.SENDING]))
            .group_by(Delivery.domain)
        ).all()
    )
    blocked = set(session.exec(select(DomainBlock.domain)).all())
    return [
        PeerSummary(
            domain=p.domain,
            software=p.software,
            version=p.version,
            state=p.state,
            last_success_at=p.last_success_at,
            last_failure_at=p.last_failure_at,
            failure_count=p.failure_count,
            actors=actors.get(p.domain, 0),
            pending_deliveries=pending.get(p.domain, 0),
            blocked=p.domain in blocked,
        )
        for p in session.exec(select(Peer).order_by(col(Peer.domain))).all()
    ]
