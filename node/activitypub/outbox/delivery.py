"""Delivery of outbox activities: the lifecycle of a delivery row, claiming due rows, one attempt, the
retry policy, recording outcomes. The services that list and retry deliveries are in
:mod:`node.activitypub.outbox.admin`; the job that runs all this in :mod:`node.activitypub.outbox.job`.

Lifecycle (:data:`LIFECYCLE`, a :mod:`node.core.statemachine` graph checked when declared)::

    pending ──claim──> sending ──2xx────────────────────────> delivered
      │                 ├──408/429/503, 5xx, network──────────> pending (retried after a backoff)
      │                 ├──lease expired (worker died)────────> pending (claimed again at once)
      │                 ├──404, other 4xx, policy, gave up────> failed ──manual retry──> pending
      │                 ├──410────────────────────────────────> gone (the recipient is marked gone)
      │                 └──domain blocked, duplicate inbox────> cancelled
      └──domain blocked──────────────────────────────────────> cancelled

Outcomes follow the exception tree of :mod:`node.activitypub.transport.fetch`: ``TryLater`` is retried after
``max(backoff, Retry-After)``, ``Unavailable`` after the backoff (30 s × 2^(attempts-1), ±20 %
jitter, at most 6 h); ``Gone`` ends as ``gone``; ``RemoteNotFound``, ``RemoteRefused`` and
``PolicyViolation`` end as ``failed`` without retry; a retry that would fall after
``delivery_give_up_hours`` from the delivery's creation ends as ``failed`` instead.

A claim sets ``sending``, a lease and ``attempts + 1``; that count is the claim's token: an outcome
is only recorded while the row is still ``sending`` with the same count, so a worker whose lease
expired (and whose row another worker took over) cannot overwrite the newer attempt. A worker killed
mid-delivery loses nothing: the row is claimed again when its lease expires and the activity is sent
again (receivers deduplicate by activity id).

Both ends work on whole batches, with statements built once: a claim is one ``UPDATE ... RETURNING``
then one query each for the batch's activities, blocked domains and gone recipients (and two per
publishing actor, for its key); a record is one ``UPDATE`` for all the deliveries that went through
(per status), one per other outcome, and the peers' upserts.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Connection, Select, bindparam, func, or_, select, update
from sqlalchemy.sql.dml import Update
from sqlmodel import Session, col

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.local import Accounts, Groups
from node.activitypub.actors.remote import (
    ActorGone,
    DomainBlocked,
    FetchFailed,
    LocalUri,
    RemoteActorError,
    block_candidates,
    domain_blocked,
)
from node.activitypub.addressing import same_origin
from node.activitypub.models import (
    Delivery,
    DeliveryState,
    DomainBlock,
    OutboxActivity,
    RemoteActor,
)
from node.activitypub.outbox import peers
from node.activitypub.signatures import HttpSignatureAuth
from node.activitypub.transport.fetch import (
    Fetcher,
    Gone,
    PolicyViolation,
    RemoteError,
    RemoteNotFound,
    RemoteRefused,
    TryLater,
    Unavailable,
)
from node.activitypub.transport.poster import InboxPoster
from node.core.jobs import Backoff, Queue, claim_statement
from node.core.sqlbase import table_of
from node.core.statemachine import Lifecycle, TransitionRefused, lifecycle
from node.settings import Settings

log = logging.getLogger("asasap.federation")

S = DeliveryState
CLAIMABLE = (S.PENDING, S.SENDING)  # the states a claim takes rows from (sending: an expired lease)
BACKOFF = Backoff(base=timedelta(seconds=30), cap=timedelta(hours=6), jitter=0.2)
ResolveInbox = Callable[[str], Awaitable[str]]
"""``await resolve_inbox(actor_uri)``: where to deliver to that actor (its shared inbox or inbox)."""

# --- the lifecycle ---------------------------------------------------------------------------------

LIFECYCLE: Lifecycle[DeliveryState] = lifecycle(
    "delivery",
    DeliveryState,
    S.PENDING,
    {
        S.PENDING: {S.SENDING, S.CANCELLED},
        S.SENDING: {S.DELIVERED, S.PENDING, S.FAILED, S.GONE, S.CANCELLED},
        S.FAILED: {S.PENDING},
    },
    terminal=[S.DELIVERED, S.GONE, S.CANCELLED],
)


def can_transition(old: S | str, new: S) -> bool:
    """Whether a delivery may go from ``old`` to ``new``."""
    return LIFECYCLE.allows(old, new)


def require_transition(old: S | str, new: S) -> None:
    """Raise :class:`~node.core.statemachine.TransitionRefused` unless ``old -> new`` is declared."""
    LIFECYCLE.check(old, new)


def states_leading_to(new: S) -> list[str]:
    """The states from which ``new`` is a declared transition."""
    return [old.value for old, target in LIFECYCLE.edges() if target is new]


# --- the statements of the hot path, built once (on first use) and executed with parameters --------


def _queue() -> Queue:
    return Queue(
        table_of(Delivery), waiting=S.PENDING.value, claimed=S.SENDING.value, touched=("updated_at",)
    )


CLAIMED_COLUMNS = ("id", "attempts", "outbox_id", "target", "inbox_url", "domain", "created_at")


@functools.cache
def _activities_statement() -> Select[Any]:
    outbox = table_of(OutboxActivity)
    return select(outbox.c.id, outbox.c.activity_id, outbox.c.actor_uri, outbox.c.payload).where(
        outbox.c.id.in_(bindparam("ids", expanding=True))
    )


@functools.cache
def _blocks_statement() -> Select[Any]:
    blocks = table_of(DomainBlock)
    return select(blocks.c.domain).where(blocks.c.domain.in_(bindparam("entries", expanding=True)))


@functools.cache
def _gone_statement() -> Select[Any]:
    actors = table_of(RemoteActor)
    listed: BindParameter[str] = bindparam("uris", expanding=True)
    return select(actors.c.uri, actors.c.inbox).where(
        actors.c.gone_at.is_not(None), or_(actors.c.uri.in_(listed), actors.c.inbox.in_(listed))
    )


@functools.cache
def _delivered_statement() -> Update:
    """Delivered (``b_ids`` with ``b_attempts``, answered ``b_status``), if still held by that claim."""
    table = table_of(Delivery)
    return (
        update(table)
        .where(
            table.c.id.in_(bindparam("b_ids", expanding=True)),
            table.c.state == S.SENDING.value,
            table.c.attempts == bindparam("b_attempts"),
        )
        .values(
            state=S.DELIVERED.value,
            lease_until=None,
            last_status=bindparam("b_status", type_=table.c.last_status.type),
            last_error="",
            delivered_at=bindparam("b_now", type_=table.c.delivered_at.type),
            updated_at=bindparam("b_now", type_=table.c.updated_at.type),
        )
    )


@functools.cache
def _outcome_statement() -> Update:
    """Any outcome of one delivery (``b_id`` with ``b_attempts``), if still held by that claim."""
    table = table_of(Delivery)
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.state == S.SENDING.value,
            table.c.attempts == bindparam("b_attempts"),
        )
        .values(
            state=bindparam("b_state"),
            lease_until=None,
            last_status=bindparam("b_status"),
            last_error=bindparam("b_error"),
            next_attempt_at=func.coalesce(
                bindparam("b_next", type_=table.c.next_attempt_at.type), table.c.next_attempt_at
            ),
            inbox_url=func.coalesce(bindparam("b_inbox", type_=table.c.inbox_url.type), table.c.inbox_url),
            delivered_at=bindparam("b_delivered", type_=table.c.delivered_at.type),
            updated_at=bindparam("b_now", type_=table.c.updated_at.type),
        )
    )


# --- claiming --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a worker holds until ``lease_until``; ``attempts`` counts this one (the claim's token)."""

    id: int
    attempts: int
    outbox_id: int
    activity_id: str
    actor_uri: str
    payload: bytes
    target: str
    inbox_url: str | None
    domain: str
    created_at: datetime
    blocked: bool = False  # the domain was blocked since publication
    gone: bool = False  # the recipient answered 410 to an earlier delivery


@dataclass(frozen=True)
class Batch:
    """Claimed deliveries and a signer per publishing actor (absent: the actor has no usable key)."""

    items: list[ClaimedDelivery]
    signers: dict[str, HttpSignatureAuth]


def _signers(
    settings: Settings,
    actor_uris: Iterable[str],
    *,
    session: Session,
    accounts: Accounts,
    groups: Groups | None = None,
) -> dict[str, HttpSignatureAuth]:
    """A signer for each local actor that published from ``actor_uris``: the node, a group, or a person
    in any account state (a deleted account's ``Delete`` is signed with its kept key)."""
    signers: dict[str, HttpSignatureAuth] = {}
    for uri in set(actor_uris):
        actor = local.actor_at(
            settings, uri, session=session, accounts=accounts, active_only=False, groups=groups
        )
        if actor is not None:
            signers[uri] = local.signer(settings, actor, session=session)
    return signers


def claim(
    settings: Settings,
    *,
    session: Session,
    accounts: Accounts,
    now: datetime,
    limit: int,
    lease: timedelta,
    groups: Groups | None = None,
) -> Batch:
    """Claim up to ``limit`` due deliveries (pending and due, or sending with an expired lease).

    On PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so that concurrent workers
    take different rows; on SQLite call it in a ``session_scope(engine, write=True)`` transaction,
    whose write lock makes claims one at a time.

    On PostgreSQL the claim's commit does not wait for the disk (``synchronous_commit`` off for this
    transaction only): a claim lost in a crash only leaves its rows pending, as if never claimed, and
    the synchronous commit that records the outcomes makes every earlier commit durable too.
    """
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
    for state in CLAIMABLE:
        # An expired lease is sending -> pending -> sending: the row is simply claimed again.
        if not (can_transition(state, S.SENDING) or can_transition(state, S.PENDING)):
            raise TransitionRefused("delivery", state.value, S.SENDING.value)
    claimed = connection.execute(
        claim_statement(_queue(), postgres=postgres, returning=CLAIMED_COLUMNS),
        {"now": now, "limit": limit, "lease_until": now + lease},
    ).all()
    if not claimed:
        return Batch([], {})
    rows = sorted(claimed, key=lambda row: row.id)  # RETURNING has no order
    # Each activity once, however many of its deliveries the batch holds.
    activities = {
        row.id: (row.activity_id, row.actor_uri, row.payload.encode("utf-8"))
        for row in connection.execute(
            _activities_statement(), {"ids": sorted({row.outbox_id for row in rows})}
        )
    }
    blocked = _blocked_domains(connection, {row.domain for row in rows})
    gone = _gone_targets(connection, [row.target for row in rows] + [row.inbox_url for row in rows])
    items = []
    for row in rows:
        activity_id, actor_uri, payload = activities[row.outbox_id]
        items.append(
            ClaimedDelivery(
                id=row.id,
                attempts=row.attempts,
                outbox_id=row.outbox_id,
                activity_id=activity_id,
                actor_uri=actor_uri,
                payload=payload,
                target=row.target,
                inbox_url=row.inbox_url,
                domain=row.domain,
                created_at=row.created_at,
                blocked=row.domain in blocked,
                gone=row.target in gone or row.inbox_url in gone,
            )
        )
    return Batch(
        items,
        _signers(
            settings, {item.actor_uri for item in items}, session=session, accounts=accounts, groups=groups
        ),
    )


def _blocked_domains(connection: Connection, domains: Iterable[str]) -> set[str]:
    """Which of ``domains`` are blocked, directly or through their host or a parent domain."""
    candidates = {domain: block_candidates(domain) for domain in domains}
    wanted = sorted({entry for entries in candidates.values() for entry in entries})
    found = set(connection.execute(_blocks_statement(), {"entries": wanted}).scalars())
    return {domain for domain, entries in candidates.items() if found.intersection(entries)}


def _gone_targets(connection: Connection, uris: Sequence[str | None]) -> set[str]:
    """Which of ``uris`` are the URI or the personal inbox of an actor marked gone."""
    wanted = sorted({uri for uri in uris if uri})
    if not wanted:
        return set()
    rows = connection.execute(_gone_statement(), {"uris": wanted}).all()
    return {value for row in rows for value in row} & set(wanted)


# --- one attempt and its outcome -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed delivery; ``peer`` says whether the server took it (None: no news).

    ``inbox_stored``: the row already holds ``inbox_url`` (the inbox it had when claimed).
    """

    delivery_id: int
    attempts: int
    state: DeliveryState
    domain: str
    target: str
    inbox_url: str | None
    status: int | None = None
    error: str = ""
    next_attempt_at: datetime | None = None
    peer: bool | None = None
    inbox_stored: bool = True


def _ending(
    item: ClaimedDelivery,
    state: S,
    error: str = "",
    *,
    status: int | None = None,
    inbox: str | None = None,
    peer: bool | None = None,
    next_attempt_at: datetime | None = None,
) -> Outcome:
    return Outcome(
        item.id,
        item.attempts,
        state,
        item.domain,
        item.target,
        inbox or item.inbox_url,
        status=status,
        error=error[:1000],
        next_attempt_at=next_attempt_at,
        peer=peer,
        inbox_stored=inbox is None or inbox == item.inbox_url,
    )


def settle(
    item: ClaimedDelivery,
    error: BaseException | None,
    *,
    now: datetime,
    give_up: timedelta,
    inbox: str | None = None,
    status: int | None = None,
    rng: random.Random | None = None,
) -> Outcome:
    """The outcome of an attempt that raised ``error`` (None: the inbox took it, answering ``status``)."""
    inbox = inbox or item.inbox_url
    if error is None:
        return _ending(item, S.DELIVERED, status=status, inbox=inbox, peer=True)
    if isinstance(error, FetchFailed):  # the cache of remote actors wraps what the fetcher raised
        return settle(item, error.error, now=now, give_up=give_up, inbox=inbox, rng=rng)
    status = error.status if isinstance(error, RemoteError) else None
    text = f"{getattr(error, 'reason', type(error).__name__)}: {error}"
    if isinstance(error, Gone | ActorGone):
        return _ending(item, S.GONE, text, status=status, inbox=inbox)
    if isinstance(error, DomainBlocked | LocalUri):
        return _ending(item, S.CANCELLED, text, inbox=inbox)
    if isinstance(error, RemoteNotFound | RemoteRefused | PolicyViolation | RemoteActorError):
        return _ending(item, S.FAILED, text, status=status, inbox=inbox)
    delay = BACKOFF.after(item.attempts, rng)
    if isinstance(error, TryLater) and error.retry_after is not None:
        delay = max(delay, timedelta(seconds=error.retry_after))
    peer: bool | None = False if isinstance(error, TryLater | Unavailable) else None
    if not isinstance(error, TryLater | Unavailable):
        log.warning("delivery %s to %s: unexpected %r", item.id, item.target, error)
    if now + delay > item.created_at + give_up:
        gave_up = f"gave up after {item.attempts} attempts over {give_up}: {text}"
        return _ending(item, S.FAILED, gave_up, status=status, inbox=inbox, peer=peer)
    return _ending(item, S.PENDING, text, status=status, inbox=inbox, next_attempt_at=now + delay, peer=peer)


def precheck(item: ClaimedDelivery, signer: HttpSignatureAuth | None) -> Outcome | None:
    """The outcome of a delivery that must not be attempted at all, else None."""
    if item.blocked:
        return _ending(item, S.CANCELLED, "domain blocked")
    if item.gone:
        return _ending(item, S.GONE, "gone: the recipient answered 410 before")
    if signer is None:
        return _ending(item, S.FAILED, f"no signing key for {item.actor_uri}")
    return None


async def post(poster: InboxPoster, item: ClaimedDelivery, inbox: str, signer: HttpSignatureAuth) -> int:
    """POST the stored activity to ``inbox``, signed; the 2xx status, or a :class:`RemoteError`."""
    answer = await poster.post_signed(
        inbox, item.payload, key_id=signer.key_id, private_key=signer.private_key
    )
    return answer.status


async def fetch_inbox(fetcher: Fetcher, actor_uri: str) -> str:
    """Where to deliver to ``actor_uri``, read from its document: ``endpoints.sharedInbox``, else
    ``inbox``. Either must have the actor's origin (an actor cannot make us post elsewhere)."""
    document = (await fetcher.get_activity(actor_uri)).document
    endpoints = document.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    for candidate in (shared, document.get("inbox")):
        if isinstance(candidate, str) and same_origin(candidate, actor_uri):
            return candidate
    raise PolicyViolation(f"{actor_uri} names no inbox of its origin", url=actor_uri, reason="no_inbox")


def check_resolved(
    settings: Settings, item: ClaimedDelivery, inbox: str, *, session: Session
) -> Outcome | None:
    """Store the inbox a worker resolved for ``item``; the outcome when it must not be used, else None.

    Refused: one of our own URLs, a blocked domain, or an inbox another delivery of the same activity
    already has (one request per inbox and activity).
    """
    table = table_of(Delivery)
    if local.is_local(settings, inbox):
        return _ending(item, S.CANCELLED, "the inbox is on this node", inbox=inbox)
    if domain_blocked(session, addressing.domain_of(inbox)):
        return _ending(item, S.CANCELLED, "domain blocked", inbox=inbox)
    twin = session.execute(
        select(table.c.id).where(
            table.c.outbox_id == item.outbox_id,
            table.c.id != item.id,
            or_(table.c.target == inbox, table.c.inbox_url == inbox),
        )
    ).first()
    if twin is not None:
        return _ending(item, S.CANCELLED, f"same inbox as delivery {twin.id}", inbox=inbox)
    session.execute(
        update(table)
        .where(table.c.id == item.id, table.c.state == S.SENDING.value, table.c.attempts == item.attempts)
        .values(inbox_url=inbox)
    )
    return None


# --- recording -------------------------------------------------------------------------------------


def record(outcomes: Sequence[Outcome], *, session: Session, now: datetime) -> None:
    """Write the outcomes of a batch in one transaction: deliveries, gone actors, peers.

    A delivery is only updated while it is still held by the claim the outcome comes from.
    """
    if not outcomes:
        return
    for state in {outcome.state for outcome in outcomes}:
        require_transition(S.SENDING, state)
    connection = session.connection()
    # The common case in one statement per (status, attempts): delivered to the inbox the row holds.
    delivered: dict[tuple[int | None, int], list[int]] = {}
    others: list[Outcome] = []
    for outcome in outcomes:
        if outcome.state is S.DELIVERED and outcome.inbox_stored:
            delivered.setdefault((outcome.status, outcome.attempts), []).append(outcome.delivery_id)
        else:
            others.append(outcome)
    for (status, attempts), ids in delivered.items():
        parameters = {"b_ids": ids, "b_attempts": attempts, "b_status": status, "b_now": now}
        connection.execute(_delivered_statement(), parameters)
    if others:
        _record_each(connection, others, now)
    gone = [o for o in outcomes if o.state is S.GONE and o.status == 410]
    if gone:
        uris = sorted({o.target for o in gone})
        inboxes = sorted({o.inbox_url for o in gone if o.inbox_url})
        session.execute(
            update(RemoteActor)
            .where(
                col(RemoteActor.gone_at).is_(None),
                or_(col(RemoteActor.uri).in_(uris), col(RemoteActor.inbox).in_(inboxes)),
            )
            .values(gone_at=now)
            .execution_options(synchronize_session=False)
        )
    peers.record(connection, [(o.domain, o.peer) for o in outcomes], now)


def _record_each(connection: Connection, outcomes: Sequence[Outcome], now: datetime) -> None:
    """One update per outcome (a single statement executed for each)."""
    parameters = [
        {
            "b_id": o.delivery_id,
            "b_attempts": o.attempts,
            "b_state": o.state.value,
            "b_status": o.status,
            "b_error": o.error,
            "b_next": o.next_attempt_at,
            "b_inbox": o.inbox_url,
            "b_delivered": now if o.state is S.DELIVERED else None,
            "b_now": now,
        }
        for o in outcomes
    ]
    connection.execute(_outcome_statement(), parameters)
