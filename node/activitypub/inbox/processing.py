"""Processing of stored inbox activities: the job that claims verified rows and has them processed.

The inbox stores a verified activity and answers 202; :class:`InboxJob` then claims stored rows, reads
each payload once into a typed :class:`~node.activitypub.vocab.Activity`, has the node's
:class:`~node.activitypub.inbox.dispatch.Dispatcher` process it and records the outcome. The handlers'
changes and the row's new state commit in one transaction, so an activity takes effect exactly once
even when a worker dies half-way (its lease runs out and another worker takes the row again). What a
handler may do and answer is in :mod:`node.activitypub.inbox.context`.

Row lifecycle (:data:`LIFECYCLE`): pending -> processing -> done | ignored | failed, or back to
pending to be retried (after :data:`BACKOFF`); a processing row whose lease expired is claimed again.
A row claimed ``max_attempts`` times fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from node.activitypub import addressing, vocab
from node.activitypub.actors.remote import FetchFailed, RemoteActorError, RemoteActors, domain_blocked
from node.activitypub.inbox.context import NeedsFetch, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Dispatcher
from node.activitypub.models import BlockedAccount, InboxActivity, InboxState
from node.core.db import session_scope
from node.core.jobs import Backoff, Queue, claim_statement
from node.core.sqlbase import table_of
from node.core.statemachine import Lifecycle, lifecycle
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.federation")

S = InboxState
LIFECYCLE: Lifecycle[InboxState] = lifecycle(
    "inbox row",
    InboxState,
    S.PENDING,
    {
        S.PENDING: {S.PROCESSING, S.FAILED},
        S.PROCESSING: {S.PROCESSING, S.PENDING, S.DONE, S.IGNORED, S.FAILED},
    },
    terminal=[S.DONE, S.IGNORED, S.FAILED],
)
BACKOFF = Backoff(base=timedelta(seconds=30), cap=timedelta(hours=1))


def _queue() -> Queue:
    return Queue(table_of(InboxActivity), waiting=S.PENDING.value, claimed=S.PROCESSING.value, order="id")


@dataclass(frozen=True)
class _Claim:
    row_id: int
    attempts: int  # the claim's token: a row claimed again gets a higher count
    actor_uri: str


class InboxJob:
    """Claims pending inbox rows and processes them; a :class:`~node.core.jobs.Job`.

    Several jobs (threads or processes) may run on one database (see :mod:`node.core.jobs` for the
    claim). After ``max_attempts`` claims a row is failed. Within a batch, the activities of one actor
    are processed one after the other, in the order received (a ``Follow`` and its ``Undo``);
    different actors' in parallel.
    """

    MAX_FETCHES = 5

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        dispatcher: Dispatcher,
        remote: RemoteActors | None = None,
        batch_size: int = 16,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.dispatcher = dispatcher
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
            self._give_up_exhausted(now, session=session)
            for state in (
                S.PENDING,
                S.PROCESSING,
            ):  # a processing row is claimed again when its lease expired
                LIFECYCLE.check(state, S.PROCESSING)
            postgres = self.engine.dialect.name == "postgresql"
            statement = claim_statement(
                _queue(), postgres=postgres, returning=("id", "attempts", "actor_uri"), capped=True
            )
            parameters = {
                "now": now,
                "limit": self.batch_size,
                "lease_until": now + self.lease,
                "max_attempts": self.max_attempts,
            }
            rows = session.connection().execute(statement, parameters).all()
            return [_Claim(row.id, row.attempts, row.actor_uri) for row in sorted(rows, key=lambda r: r.id)]

    def _give_up_exhausted(self, now: datetime, *, session: Session) -> None:
        """Fail the due rows that were claimed ``max_attempts`` times already (their last worker died)."""
        due = or_(
            and_(col(InboxActivity.state) == S.PENDING.value, col(InboxActivity.next_attempt_at) <= now),
            and_(col(InboxActivity.state) == S.PROCESSING.value, col(InboxActivity.lease_until) < now),
        )
        query = select(InboxActivity.id, InboxActivity.attempts, InboxActivity.state).where(
            due, col(InboxActivity.attempts) >= self.max_attempts
        )
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for row_id, attempts, state in session.exec(query).all():
            assert row_id is not None
            error = f"gave up after {attempts} attempts"
            self._set_state(row_id, S.FAILED, now, old=InboxState(state), error=error, session=session)

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
        kind: str | None = None,
    ) -> None:
        LIFECYCLE.check(old, state)
        values: dict[str, Any] = {"state": state.value, "lease_until": None, "error": error[:1000]}
        if kind is not None:
            values["kind"] = kind
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
            retry_at = now + BACKOFF.after(claim.attempts) if state is InboxState.PENDING else None
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
                activity = vocab.parse_activity(json.loads(row.payload))
            except (ValueError, vocab.VocabError) as exc:
                error = f"stored payload unreadable: {exc}"[:1000]
                self._set_state(claim.row_id, InboxState.FAILED, now, error=error, session=session)
                return
            if domain_blocked(session, addressing.domain_of(row.actor_uri)):
                self._set_state(
                    claim.row_id, InboxState.IGNORED, now, error="domain blocked", session=session
                )
                return
            blocked = select(BlockedAccount.id).where(col(BlockedAccount.actor_uri) == row.actor_uri)
            if session.exec(blocked).first() is not None:
                self._set_state(
                    claim.row_id, InboxState.IGNORED, now, error="account blocked", session=session
                )
                return
            ctx = ProcessingContext(session, self.settings, row, fetched)
            savepoint = session.begin_nested()
            try:
                kind, outcome = self.dispatcher.run(ctx, activity)
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
                    retry_at = now + BACKOFF.after(claim.attempts)
                    self._set_state(
                        claim.row_id,
                        InboxState.PENDING,
                        now,
                        error=repr(exc),
                        retry_at=retry_at,
                        session=session,
                    )
                return
            self._set_state(claim.row_id, InboxState(outcome.value), now, kind=kind, session=session)
