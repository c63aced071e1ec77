"""Federation moderation: domain blocks, limited and blocked accounts, and the list of known peers.

A block refuses the domain's requests at the inbox, cancels pending deliveries to it, drops the follows
that link us to it, and hides what we cached of it. An account of another server can be blocked alone
(:func:`block_account`): what it sends is ignored, the follows that link us to it are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, update
from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.activitypub.actors.remote import covers
from node.activitypub.models import (
    BlockedAccount,
    Delivery,
    DeliveryState,
    DomainBlock,
    Follow,
    FollowState,
    InboxActivity,
    InboxState,
    LimitedAccount,
    Peer,
    RemoteActor,
)
from node.activitypub.outbox.publish import cancel_for_domain
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
    """Block a domain and undo what links us to it. The block covers the domain's ports and subdomains
    (:func:`node.activitypub.actors.remote.covers`), here as at the inbox and in deliveries: their
    pending deliveries are cancelled, the follows with their actors dropped, their activities not yet
    processed ignored."""
    domain = normalise_domain(raw_domain)
    if is_blocked(domain, session=session):
        raise Conflict(N_("This domain is already blocked."))
    session.add(DomainBlock(domain=domain, reason=reason.strip()[:500]))
    cancelled = cancel_for_domain(domain, session=session)
    follows = session.exec(
        select(Follow).where(
            or_(_mentions(Follow.follower_uri, domain), _mentions(Follow.followee_uri, domain))
        )
    ).all()
    removed = [
        row for row in follows if _covered(row.follower_uri, domain) or _covered(row.followee_uri, domain)
    ]
    for row in removed:
        session.delete(row)
    pending = session.exec(
        select(InboxActivity).where(
            _mentions(InboxActivity.actor_uri, domain), col(InboxActivity.state) == InboxState.PENDING.value
        )
    ).all()
    dropped = [row for row in pending if _covered(row.actor_uri, domain)]
    if dropped:
        session.execute(
            update(InboxActivity)
            .where(col(InboxActivity.id).in_([row.id for row in dropped]))
            .values(state=InboxState.IGNORED.value, error="domain blocked")
        )
    session.flush()
    return BlockResult(domain, cancelled, len(removed), len(dropped))


def _mentions(column: Any, domain: str) -> ColumnElement[bool]:
    """URIs that may be on ``domain`` (a broad filter; :func:`_covered` decides)."""
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return col(column).like(f"%{escaped}%", escape="\\")


def _covered(uri: str, block: str) -> bool:
    return covers(block, addressing.domain_of(uri))


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


# --- limited accounts -------------------------------------------------------------------------------------


def is_limited(actor_uri: str, *, session: Session) -> bool:
    """Whether a moderator limited ``actor_uri``."""
    found = session.exec(select(LimitedAccount.id).where(col(LimitedAccount.actor_uri) == actor_uri))
    return found.first() is not None


def limited_accounts(*, session: Session) -> list[str]:
    """Every limited account's URI."""
    return list(session.exec(select(LimitedAccount.actor_uri).order_by(col(LimitedAccount.id))).all())


def limit_account(actor_uri: str, *, session: Session, reason: str = "") -> LimitedAccount:
    """Limit ``actor_uri``: its proposals leave listings and search, its messages reach only its followers
    here. Limiting twice is a :class:`Conflict`."""
    if not addressing.is_uri(actor_uri):
        raise ValidationFailed(N_("This is not the address of an account."))
    if is_limited(actor_uri, session=session):
        raise Conflict(N_("This account is already limited."))
    row = LimitedAccount(actor_uri=actor_uri, reason=reason[:500])
    session.add(row)
    session.flush()
    return row


def unlimit_account(actor_uri: str, *, session: Session) -> None:
    row = session.exec(select(LimitedAccount).where(col(LimitedAccount.actor_uri) == actor_uri)).first()
    if row is None:
        raise NotFound(N_("This account is not limited."))
    session.delete(row)


def reaches(author_uri: str, reader_uri: str, *, session: Session) -> bool:
    """Whether what ``author_uri`` writes may reach ``reader_uri``: always, unless the author is limited and
    the reader does not follow them (an accepted follow)."""
    if not is_limited(author_uri, session=session):
        return True
    follow = session.exec(
        select(Follow.state).where(
            col(Follow.follower_uri) == reader_uri, col(Follow.followee_uri) == author_uri
        )
    ).first()
    return follow == FollowState.ACCEPTED.value


# --- blocked accounts -------------------------------------------------------------------------------------


def is_account_blocked(actor_uri: str, *, session: Session) -> bool:
    """Whether a moderator blocked the account ``actor_uri``."""
    found = session.exec(select(BlockedAccount.id).where(col(BlockedAccount.actor_uri) == actor_uri))
    return found.first() is not None


def blocked_accounts(*, session: Session) -> list[str]:
    """Every blocked account's URI."""
    return list(session.exec(select(BlockedAccount.actor_uri).order_by(col(BlockedAccount.id))).all())


def block_account(actor_uri: str, *, session: Session, reason: str = "") -> int:
    """Block ``actor_uri``, an account of another server: the activities it sent and that wait are
    ignored, as will be what it sends next (at processing), and the follows between it and us are
    dropped; how many follows. Blocking twice is a :class:`Conflict`."""
    if not addressing.is_uri(actor_uri):
        raise ValidationFailed(N_("This is not the address of an account."))
    if is_account_blocked(actor_uri, session=session):
        raise Conflict(N_("This account is already blocked."))
    session.add(BlockedAccount(actor_uri=actor_uri, reason=reason[:500]))
    follows = session.exec(
        select(Follow).where(
            or_(col(Follow.follower_uri) == actor_uri, col(Follow.followee_uri) == actor_uri)
        )
    ).all()
    for row in follows:
        session.delete(row)
    session.execute(
        update(InboxActivity)
        .where(
            col(InboxActivity.actor_uri) == actor_uri, col(InboxActivity.state) == InboxState.PENDING.value
        )
        .values(state=InboxState.IGNORED.value, error="account blocked")
    )
    session.flush()
    return len(follows)


def unblock_account(actor_uri: str, *, session: Session) -> None:
    row = session.exec(select(BlockedAccount).where(col(BlockedAccount.actor_uri) == actor_uri)).first()
    if row is None:
        raise NotFound(N_("This account is not blocked."))
    session.delete(row)
