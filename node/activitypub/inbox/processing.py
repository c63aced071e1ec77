"""Processing of stored inbox activities: a registry of handlers and the job that runs them.

The inbox stores a verified activity and answers 202; :class:`InboxJob` then claims stored rows,
runs the handlers registered for the activity's type and records the outcome. A handler's changes
and the row's new state commit in one transaction, so an activity takes effect exactly once even
when a worker dies half-way (its lease runs out and another worker takes the row again).

Handlers are synchronous functions of a :class:`ProcessingContext` and the activity (the stored
JSON object, where embedded objects of another origin than the signer were replaced by their id).
A handler may raise :class:`NeedsFetch` when it needs a remote document or actor: the transaction
is rolled back, the job fetches it outside any transaction, and the handler runs again with the
document in ``ctx.fetched``. Other outcomes::

    return None / Outcome.DONE     the activity took effect          -> done
    return Outcome.IGNORED         nothing to do for this handler    -> ignored (if no handler did it)
    raise PermanentFailure         it can never be processed         -> failed
    raise any other exception      perhaps transient                 -> retried with backoff, then failed

Row lifecycle (:data:`TRANSITIONS`): pending -> processing -> done | ignored | failed, or back to
pending to be retried; a processing row whose lease expired is claimed again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, and_, delete, or_, update
from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.activitypub.actors.remote import FetchFailed, RemoteActorError, RemoteActors, domain_blocked
from node.activitypub.models import Follow, InboxActivity, InboxState, RemoteActor
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.federation")

# --- the row lifecycle -----------------------------------------------------------------------------

TRANSITIONS: dict[InboxState, frozenset[InboxState]] = {
    InboxState.PENDING: frozenset({InboxState.PROCESSING, InboxState.FAILED}),
    InboxState.PROCESSING: frozenset(
        {InboxState.PROCESSING, InboxState.PENDING, InboxState.DONE, InboxState.IGNORED, InboxState.FAILED}
    ),
    InboxState.DONE: frozenset(),
    InboxState.IGNORED: frozenset(),
    InboxState.FAILED: frozenset(),
}


def check_transitions(table: Mapping[InboxState, frozenset[InboxState]]) -> None:
    """Refuse a lifecycle table that misses a state or where some state cannot reach an end."""
    missing = set(InboxState) - set(table)
    if missing:
        raise ValueError(f"states without transitions: {sorted(missing)}")
    terminal = {state for state, targets in table.items() if not targets}
    for state in table:
        seen, todo = {state}, [state]
        while todo:
            for target in table[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        if not seen & terminal:
            raise ValueError(f"{state} cannot reach a final state")


def allowed(old: InboxState, new: InboxState) -> bool:
    """Whether a row may go from ``old`` to ``new``."""
    return new in TRANSITIONS[old]


check_transitions(TRANSITIONS)

# --- handlers and the registry ---------------------------------------------------------------------


class Outcome(StrEnum):
    DONE = "done"
    IGNORED = "ignored"


class NeedsFetch(Exception):  # noqa: N818 - a request to the job, not an error
    """The handler needs ``uri`` from its origin: an actor (stored in the cache) or any object."""

    def __init__(self, uri: str, *, actor: bool = False, refresh: bool = False) -> None:
        super().__init__(f"needs {uri}")
        self.uri = uri
        self.actor = actor
        self.refresh = refresh


class PermanentFailure(Exception):
    """The activity can never be processed (inconsistent, refers to what does not exist...)."""


@dataclass
class ProcessingContext:
    """What a handler gets: the transaction, the settings, the stored row and fetched documents."""

    session: Session
    settings: Settings
    row: InboxActivity
    fetched: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def actor_uri(self) -> str:
        """The verified signer of the activity."""
        return self.row.actor_uri

    def document(self, uri: str) -> dict[str, Any]:
        """The document at ``uri``, fetched from its origin (raises :class:`NeedsFetch` the first time)."""
        if uri not in self.fetched:
            raise NeedsFetch(uri)
        return self.fetched[uri]

    def actor(self, uri: str) -> RemoteActor:
        """The cached remote actor ``uri``, fetched into the cache first when unknown."""
        row = self.session.exec(
            select(RemoteActor).where(col(RemoteActor.uri) == uri, col(RemoteActor.gone_at).is_(None))
        ).first()
        if row is None:
            if uri in self.fetched:
                raise PermanentFailure(f"{uri} could not be stored")
            raise NeedsFetch(uri, actor=True)
        return row

    def refresh_actor(self, uri: str) -> None:
        """Ask for ``uri`` to be refetched into the cache once during this processing."""
        if uri not in self.fetched:
            raise NeedsFetch(uri, actor=True, refresh=True)


Handler = Callable[[ProcessingContext, dict[str, Any]], Outcome | None]


class Registry:
    """Activity types the inbox accepts and the handlers that process them, in registration order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._accepted: set[str] = set()

    def register(self, types: tuple[str, ...], handler: Handler) -> Callable[[], None]:
        """Register ``handler`` for ``types``; returns a function that unregisters it."""
        for kind in types:
            self._handlers.setdefault(kind, []).append(handler)

        def unregister() -> None:
            for kind in types:
                if handler in self._handlers.get(kind, []):
                    self._handlers[kind].remove(handler)

        return unregister

    def handles(self, *types: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.handles("Follow")`` registers the function for those types."""

        def decorate(handler: Handler) -> Handler:
            self.register(types, handler)
            return handler

        return decorate

    def accept(self, *types: str) -> None:
        """Accept and store ``types`` even without a handler (such rows end up ignored)."""
        self._accepted.update(types)

    def accepts(self, kind: str) -> bool:
        """Whether the inbox stores activities of type ``kind``."""
        return kind in self._accepted or bool(self._handlers.get(kind))

    def handlers_for(self, kind: str) -> tuple[Handler, ...]:
        return tuple(self._handlers.get(kind, ()))

    def dispatch(self, ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
        """Run every handler of the activity's type; DONE when at least one of them did something."""
        outcome = Outcome.IGNORED
        for handler in self.handlers_for(str(activity.get("type"))):
            if handler(ctx, activity) in (None, Outcome.DONE):
                outcome = Outcome.DONE
        return outcome


REGISTRY = Registry()
handles = REGISTRY.handles
# Stored for what federates later (proposals and their answers); ignored until a handler exists.
REGISTRY.accept("Create", "Announce")


def _id_of(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


@handles("Delete")
def delete_actor(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """An actor deleted itself: drop what we hold of it (cached actor, follows both ways)."""
    if _id_of(activity.get("object")) != ctx.actor_uri:
        return Outcome.IGNORED
    uri = ctx.actor_uri
    ctx.session.execute(delete(RemoteActor).where(col(RemoteActor.uri) == uri))
    ctx.session.execute(
        delete(Follow).where(or_(col(Follow.follower_uri) == uri, col(Follow.followee_uri) == uri))
    )
    log.info("deleted what we held of %s", uri)
    return Outcome.DONE


@handles("Update")
def update_actor(ctx: ProcessingContext, activity: dict[str, Any]) -> Outcome:
    """An actor updated itself: refetch it from its origin into the cache."""
    if _id_of(activity.get("object")) != ctx.actor_uri:
        return Outcome.IGNORED
    ctx.refresh_actor(ctx.actor_uri)
    return Outcome.DONE


# --- the job ---------------------------------------------------------------------------------------


def backoff(attempts: int, *, base: float = 30.0, cap: float = 3600.0) -> timedelta:
    """The wait before attempt ``attempts + 1``: ``base`` doubled each time, at most ``cap``."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class _Claim:
    row_id: int
    attempts: int  # the claim's token: a row claimed again gets a higher count
    actor_uri: str


class InboxJob:
    """Claims pending inbox rows and processes them; a :class:`~node.activitypub.outbox.job.Job`.

    Several jobs (threads or processes) may run on one database: claims use ``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL and SQLite's write lock otherwise, and a row whose ``lease`` expired
    (its worker died) is claimed again. After ``max_attempts`` claims a row is failed. Within a
    batch, the activities of one actor are processed one after the other, in the order received
    (a ``Follow`` and its ``Undo``); different actors' in parallel.
    """

    MAX_FETCHES = 5

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        remote: RemoteActors | None = None,
        registry: Registry = REGISTRY,
        batch_size: int = 16,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self._owns_remote = remote is None
        self.remote = remote or RemoteActors(settings, engine)

    async def run_once(self) -> int:
        """Claim a batch and process it; the number of rows claimed (0: nothing to do now)."""
        claims = await anyio.to_thread.run_sync(self._claim)
        by_actor: dict[str, list[_Claim]] = {}
        for claim in claims:
            by_actor.setdefault(claim.actor_uri, []).append(claim)
        await asyncio.gather(*(self._process_in_order(group) for group in by_actor.values()))
        return len(claims)

    async def _process_in_order(self, claims: list[_Claim]) -> None:
        for claim in claims:
            try:
                await self._process(claim)
            except Exception:  # noqa: BLE001 - the row is claimed again when its lease expires
                log.exception("inbox row %s: processing failed", claim.row_id)

    async def aclose(self) -> None:
        if self._owns_remote:
            await self.remote.aclose()

    def _claim(self) -> list[_Claim]:
        now = utcnow()
        with session_scope(self.engine, write=True) as session:
            due = or_(
                and_(
                    col(InboxActivity.state) == InboxState.PENDING.value,
                    col(InboxActivity.next_attempt_at) <= now,
                ),
                and_(
                    col(InboxActivity.state) == InboxState.PROCESSING.value,
                    col(InboxActivity.lease_until) < now,
                ),
            )
            query = (
                select(InboxActivity.id, InboxActivity.attempts, InboxActivity.state, InboxActivity.actor_uri)
                .where(due)
                .order_by(col(InboxActivity.id))
                .limit(self.batch_size)
            )
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            claims: list[_Claim] = []
            for row_id, attempts, state, actor_uri in session.exec(query).all():
                assert row_id is not None
                if attempts >= self.max_attempts:
                    error = f"gave up after {attempts} attempts"
                    self._set_state(
                        row_id, InboxState.FAILED, now, old=InboxState(state), error=error, session=session
                    )
                    continue
                if not allowed(InboxState(state), InboxState.PROCESSING):
                    raise AssertionError(f"inbox row {row_id}: {state} cannot be claimed")
                session.execute(
                    update(InboxActivity)
                    .where(col(InboxActivity.id) == row_id)
                    .values(
                        state=InboxState.PROCESSING.value, lease_until=now + self.lease, attempts=attempts + 1
                    )
                )
                claims.append(_Claim(row_id, attempts + 1, actor_uri))
            return claims

    @staticmethod
    def _set_state(
        row_id: int,
        state: InboxState,
        now: datetime,
        *,
        session: Session,
        old: InboxState = InboxState.PROCESSING,
        error: str = "",
        retry_at: datetime | None = None,
    ) -> None:
        if not allowed(old, state):
            raise AssertionError(f"inbox row {row_id}: {old} -> {state} is not a declared transition")
        values: dict[str, Any] = {"state": state.value, "lease_until": None, "error": error[:1000]}
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        else:
            values["processed_at"] = now
        session.execute(update(InboxActivity).where(col(InboxActivity.id) == row_id).values(**values))

    async def _process(self, claim: _Claim) -> None:
        fetched: dict[str, dict[str, Any]] = {}
        while True:
            try:
                await anyio.to_thread.run_sync(self._run_handlers, claim, fetched)
                return
            except NeedsFetch as need:
                if need.uri in fetched or len(fetched) >= self.MAX_FETCHES:
                    await self._finish(claim, InboxState.FAILED, f"fetch loop on {need.uri}")
                    return
                try:
                    if need.actor:
                        await self.remote.get_actor(need.uri, refresh=need.refresh)
                        fetched[need.uri] = {}
                    else:
                        fetched[need.uri] = await self.remote.fetch_document(need.uri)
                except RemoteActorError as exc:
                    log.info("inbox row %s: cannot fetch %s: %s", claim.row_id, need.uri, exc)
                    transient = isinstance(exc, FetchFailed) and exc.retryable
                    await self._finish(
                        claim, InboxState.PENDING if transient else InboxState.FAILED, str(exc)
                    )
                    return

    async def _finish(self, claim: _Claim, state: InboxState, error: str) -> None:
        await anyio.to_thread.run_sync(self._record_failure, claim, state, error)

    def _record_failure(self, claim: _Claim, state: InboxState, error: str) -> None:
        now = utcnow()
        with session_scope(self.engine, write=True) as session:
            if self._reload(claim, session=session) is None:
                return
            if state is InboxState.PENDING and claim.attempts >= self.max_attempts:
                state, error = InboxState.FAILED, f"gave up after {claim.attempts} attempts: {error}"
            retry_at = now + backoff(claim.attempts) if state is InboxState.PENDING else None
            self._set_state(claim.row_id, state, now, error=error, retry_at=retry_at, session=session)

    def _reload(self, claim: _Claim, *, session: Session) -> InboxActivity | None:
        """The claimed row, locked, if this claim still holds it (else another worker took it over)."""
        query = select(InboxActivity).where(
            col(InboxActivity.id) == claim.row_id,
            col(InboxActivity.state) == InboxState.PROCESSING.value,
            col(InboxActivity.attempts) == claim.attempts,
        )
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update()
        return session.exec(query).first()

    def _run_handlers(self, claim: _Claim, fetched: Mapping[str, dict[str, Any]]) -> None:
        """Process the row in one transaction: the handlers' changes and the row's state together."""
        now = utcnow()
        with session_scope(self.engine, write=True) as session:
            row = self._reload(claim, session=session)
            if row is None:
                return
            try:
                activity = json.loads(row.payload)
            except ValueError:
                activity = None
            if not isinstance(activity, dict):
                self._set_state(
                    claim.row_id, InboxState.FAILED, now, error="stored payload unreadable", session=session
                )
                return
            if domain_blocked(session, addressing.domain_of(row.actor_uri)):
                self._set_state(
                    claim.row_id, InboxState.IGNORED, now, error="domain blocked", session=session
                )
                return
            ctx = ProcessingContext(session, self.settings, row, fetched)
            savepoint = session.begin_nested()
            try:
                outcome = self.registry.dispatch(ctx, activity)
                savepoint.commit()
            except NeedsFetch:
                savepoint.rollback()
                raise
            except PermanentFailure as exc:
                savepoint.rollback()
                log.info("inbox row %s (%s) failed: %s", row.id, row.activity_id, exc)
                self._set_state(claim.row_id, InboxState.FAILED, now, error=str(exc), session=session)
                return
            except Exception as exc:  # noqa: BLE001 - any other failure may be transient: retry later
                savepoint.rollback()
                log.exception("inbox row %s (%s): handler error", row.id, row.activity_id)
                if claim.attempts >= self.max_attempts:
                    error = f"gave up after {claim.attempts} attempts: {exc!r}"
                    self._set_state(claim.row_id, InboxState.FAILED, now, error=error, session=session)
                else:
                    retry_at = now + backoff(claim.attempts)
                    self._set_state(
                        claim.row_id,
                        InboxState.PENDING,
                        now,
                        error=repr(exc),
                        retry_at=retry_at,
                        session=session,
                    )
                return
            self._set_state(claim.row_id, InboxState(outcome.value), now, session=session)
