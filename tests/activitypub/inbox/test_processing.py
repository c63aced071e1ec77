"""Processing stored inbox rows: the dispatcher, the declared lifecycle, claims and leases, retries,
fetches asked by handlers, exactly-once effects with concurrent jobs, and the social graph's handlers of
an actor's own ``Update`` and ``Delete``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from node.activitypub.actors.remote import RemoteActors
from node.activitypub.inbox.context import NeedsFetch, Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, Dispatcher, DispatchError, Handler, contribution
from node.activitypub.inbox.processing import BACKOFF, LIFECYCLE, InboxJob
from node.activitypub.models import (
    BlockedAccount,
    DomainBlock,
    Follow,
    InboxActivity,
    InboxState,
    Peer,
    RemoteActor,
)
from node.activitypub.social import inbound
from node.activitypub.vocab import Activity, parse_activity
from node.core.db import session_scope
from node.core.statemachine import LifecycleError, lifecycle
from node.core.timeutil import utcnow
from node.settings import Settings
from node.worker import inbox_dispatcher
from tests.support.actors import (  # noqa: F401 - fixtures used by name
    ActorServer,
    Reply,
    actor_on,
    actor_server_fixture,
    loopback_settings_fixture,
)

REMOTE = "https://a.example/users/amina"


def store(engine: Engine, activity: dict[str, Any], **row: Any) -> int:
    with session_scope(engine) as session:
        stored = InboxActivity(
            activity_id=activity["id"],
            actor_uri=activity["actor"],
            type=activity["type"],
            payload=json.dumps(activity),
            key_id=activity["actor"] + "#main-key",
            **row,
        )
        session.add(stored)
        session.flush()
        assert stored.id is not None
        return stored.id


def activity(kind: str = "Create", actor: str = REMOTE, **fields: Any) -> dict[str, Any]:
    """An activity of ``actor``, with an object (as the inbox requires) unless one is given."""
    fields.setdefault("object", f"{actor}/objects/{uuid.uuid4()}")
    return {"id": f"{actor}/activities/{uuid.uuid4()}", "type": kind, "actor": actor, **fields}


def by_type(handlers: dict[str, Handler], *, stored: tuple[str, ...] = ()) -> Dispatcher:
    """A dispatcher whose kinds are the activity types of ``handlers``; ``stored`` types are read but
    handled by nothing."""
    part = contribution(
        "test",
        types=(*handlers, *stored),
        kinds=handlers,
        classify=lambda ctx, item: item.type if item.type in handlers else None,
        handlers={kind: (handler,) for kind, handler in handlers.items()},
    )
    return Dispatcher([part])


def rows(engine: Engine) -> list[InboxActivity]:
    with Session(engine) as session:
        return list(session.exec(select(InboxActivity).order_by(col(InboxActivity.id))).all())


def run_jobs(
    settings: Settings, engine: Engine, dispatcher: Dispatcher, *, jobs: int = 1, **options: Any
) -> int:
    """Run ``jobs`` concurrent jobs until none of them finds work; the rows they claimed in all."""

    async def main() -> int:
        remote = RemoteActors(settings, engine)
        workers = [
            InboxJob(settings, engine, remote=remote, dispatcher=dispatcher, **options) for _ in range(jobs)
        ]
        total = 0
        try:
            while counts := await asyncio.gather(*(job.run_once() for job in workers)):
                if not any(counts):
                    break
                total += sum(counts)
        finally:
            for job in workers:
                await job.aclose()
            await remote.aclose()
        return total

    return asyncio.run(main())


# --- lifecycle and dispatcher ------------------------------------------------------------------------


def test_declared_lifecycle() -> None:
    S = InboxState
    assert LIFECYCLE.allows(S.PENDING, S.PROCESSING)
    assert LIFECYCLE.allows(S.PROCESSING, S.PENDING)  # retried later
    assert LIFECYCLE.allows(S.PROCESSING, S.PROCESSING)  # lease expired: claimed again
    for final in (S.DONE, S.IGNORED, S.FAILED):
        assert final in LIFECYCLE.terminal and not LIFECYCLE.transitions.get(final)
    assert not LIFECYCLE.allows(S.DONE, S.PENDING)
    assert not LIFECYCLE.allows(S.PENDING, S.DONE)
    edges = {source: set(targets) for source, targets in LIFECYCLE.transitions.items()}
    with pytest.raises(LifecycleError, match="without exits"):  # "done" left without exits, not terminal
        lifecycle("inbox row", InboxState, S.PENDING, edges, terminal=[S.IGNORED, S.FAILED])
    looping = {S.PENDING: {S.PROCESSING, S.DONE, S.IGNORED, S.FAILED}, S.PROCESSING: {S.PROCESSING}}
    with pytest.raises(LifecycleError, match="cannot reach a terminal state"):
        lifecycle("inbox row", InboxState, S.PENDING, looping, terminal=[S.DONE, S.IGNORED, S.FAILED])


def test_dispatcher_runs_every_handler_of_the_kind_in_order() -> None:
    calls: list[str] = []

    def first(ctx: ProcessingContext, item: Activity) -> Outcome:
        calls.append("first")
        return Outcome.IGNORED

    def second(ctx: ProcessingContext, item: Activity) -> Outcome:
        calls.append("second")
        return Outcome.DONE

    part = contribution(
        "one",
        types=("Follow", "Undo"),
        kinds=("followed", "undone"),
        classify=lambda ctx, item: {"Follow": "followed", "Undo": "undone"}.get(item.type),
        handlers={"followed": (first,), "undone": (first,)},
    )
    other = contribution(
        "two", types=("Create",), kinds=(), classify=lambda ctx, item: None, handlers={"followed": (second,)}
    )
    dispatcher = Dispatcher([part, other])
    assert dispatcher.accepts("Follow") and dispatcher.accepts("Undo") and dispatcher.accepts("Create")
    assert not dispatcher.accepts("Block")
    ctx = ProcessingContext(None, None, None)  # type: ignore[arg-type]
    assert dispatcher.dispatch(ctx, parse_activity(activity("Follow"))) is Outcome.DONE
    assert dispatcher.dispatch(ctx, parse_activity(activity("Undo"))) is Outcome.IGNORED
    assert dispatcher.dispatch(ctx, parse_activity(activity("Create"))) is Outcome.IGNORED  # nobody's
    assert calls == ["first", "second", "first"]


def test_a_dispatcher_refuses_kinds_without_handlers_or_claimed_twice() -> None:
    def handler(ctx: ProcessingContext, item: Activity) -> Outcome:
        return Outcome.DONE

    def part(name: str, kinds: tuple[str, ...], handlers: dict[str, tuple[Handler, ...]]) -> Contribution:
        return contribution(
            name, types=("Follow",), kinds=kinds, classify=lambda c, a: None, handlers=handlers
        )

    with pytest.raises(DispatchError, match="without handler"):
        Dispatcher([part("a", ("followed",), {})])
    with pytest.raises(DispatchError, match="given by both"):
        Dispatcher([part("a", ("followed",), {"followed": (handler,)}), part("b", ("followed",), {})])
    with pytest.raises(DispatchError, match="which no classifier gives"):
        Dispatcher([part("a", (), {"followed": (handler,)})])


def test_the_nodes_dispatcher_reads_what_the_node_processes() -> None:
    dispatcher = inbox_dispatcher()
    for kind in (
        "Follow",
        "Accept",
        "Reject",
        "Undo",
        "Create",
        "Update",
        "Delete",
        "Announce",
        "Offer",
        "Flag",
        "Move",
        "Like",  # of our proposals, counted (issue 14)
    ):
        assert dispatcher.accepts(kind), kind
    assert not dispatcher.accepts("EmojiReact")
    assert [part.name for part in dispatcher.contributions] == [
        "social graph",
        "groups",
        "timebank",
        "telemanagement",
        "conversations",
        "marketplace",
    ]


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [BACKOFF.after(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert BACKOFF.after(30) == timedelta(hours=1)


# --- the job -----------------------------------------------------------------------------------------


def test_rows_are_processed_once_and_marked(loopback_settings: Settings, engine: Engine) -> None:
    seen: list[str] = []

    def follow(ctx: ProcessingContext, item: Activity) -> Outcome:
        assert ctx.row.activity_id == item.id and ctx.actor_uri == REMOTE
        seen.append(item.id)
        ctx.session.add(Peer(domain=f"effect-{len(seen)}"))
        return Outcome.DONE

    registry = by_type({"Follow": follow}, stored=("Create",))
    followed = store(engine, activity("Follow"))
    created = store(engine, activity("Create"))
    assert run_jobs(loopback_settings, engine, registry) == 2
    done, ignored = rows(engine)
    assert (done.id, done.state, done.attempts) == (followed, "done", 1)
    assert (ignored.id, ignored.state) == (created, "ignored")
    assert done.processed_at is not None and done.lease_until is None
    assert run_jobs(loopback_settings, engine, registry) == 0
    assert len(seen) == 1


def test_failures_are_retried_with_backoff_then_given_up(loopback_settings: Settings, engine: Engine) -> None:
    def flaky(ctx: ProcessingContext, item: Activity) -> Outcome:
        ctx.session.add(Peer(domain="never-committed"))
        raise RuntimeError("database hiccup")

    def impossible(ctx: ProcessingContext, item: Activity) -> Outcome:
        raise PermanentFailure("blocks are not for us")

    registry = by_type({"Follow": flaky, "Block": impossible})

    retried = store(engine, activity("Follow"))
    store(engine, activity("Block"))
    run_jobs(loopback_settings, engine, registry, max_attempts=2)
    first, failed = rows(engine)
    assert (first.state, first.attempts, first.error) == ("pending", 1, "RuntimeError('database hiccup')")
    assert first.next_attempt_at > utcnow() + timedelta(seconds=20)
    assert (failed.state, failed.error) == ("failed", "blocks are not for us")
    with session_scope(engine) as session:
        row = session.get(InboxActivity, retried)
        assert row is not None
        row.next_attempt_at = utcnow()
        session.add(row)
    run_jobs(loopback_settings, engine, registry, max_attempts=2)
    first = rows(engine)[0]
    assert first.state == "failed" and first.attempts == 2 and first.error.startswith("gave up after 2")
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Peer)).one() == 0


def test_expired_lease_is_claimed_again_but_a_live_one_is_not(
    loopback_settings: Settings, engine: Engine
) -> None:
    registry = by_type({"Follow": lambda ctx, item: Outcome.DONE})
    now = utcnow()
    crashed = store(
        engine, activity("Follow"), state="processing", attempts=1, lease_until=now - timedelta(seconds=1)
    )
    busy = store(
        engine, activity("Follow"), state="processing", attempts=1, lease_until=now + timedelta(minutes=5)
    )
    later = store(engine, activity("Follow"), next_attempt_at=now + timedelta(minutes=5))
    hopeless = store(
        engine, activity("Follow"), state="processing", attempts=3, lease_until=now - timedelta(seconds=1)
    )
    assert run_jobs(loopback_settings, engine, registry, max_attempts=3) == 1
    states = {row.id: (row.state, row.attempts) for row in rows(engine)}
    assert states == {
        crashed: ("done", 2),
        busy: ("processing", 1),
        later: ("pending", 0),
        hopeless: ("failed", 3),
    }


def test_a_claim_taken_over_cannot_commit_its_effects(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    """A job whose lease ran out while it fetched loses the row to another job: no double effect."""
    actor_server.routes["/notes/slow"] = Reply(
        200, json.dumps({"id": actor_server.url("/n")}).encode(), delay=1
    )
    effects: list[int] = []

    def announce(ctx: ProcessingContext, item: Activity) -> Outcome:
        assert item.object_id is not None
        ctx.document(item.object_id)
        effects.append(ctx.row.attempts)
        ctx.session.add(Peer(domain=f"effect-{ctx.row.attempts}"))
        return Outcome.DONE

    registry = by_type({"Announce": announce})

    store(engine, activity("Announce", object=actor_server.url("/notes/slow")))

    async def main() -> None:
        remote = RemoteActors(loopback_settings, engine)
        stale = InboxJob(loopback_settings, engine, remote=remote, dispatcher=registry, lease=timedelta(0))
        fresh = InboxJob(loopback_settings, engine, remote=remote, dispatcher=registry)
        try:
            first = asyncio.ensure_future(stale.run_once())
            while actor_server.hits("/notes/slow") == 0:  # the stale job is fetching, its lease over
                await asyncio.sleep(0.01)
            assert await fresh.run_once() == 1
            assert await first == 1
        finally:
            await remote.aclose()

    asyncio.run(main())
    (row,) = rows(engine)
    assert (row.state, row.attempts) == ("done", 2)
    assert effects == [2]
    with Session(engine) as session:
        assert session.exec(select(Peer.domain)).all() == ["effect-2"]


def test_concurrent_jobs_process_every_row_exactly_once(loopback_settings: Settings, engine: Engine) -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def create(ctx: ProcessingContext, item: Activity) -> Outcome:
        with lock:
            calls.append(item.id)
        ctx.session.add(Peer(domain="effect-" + item.id.rsplit("/", 1)[1]))
        return Outcome.DONE

    registry = by_type({"Create": create})

    ids = {store(engine, activity("Create")) for _ in range(40)}
    assert run_jobs(loopback_settings, engine, registry, jobs=3, batch_size=4) == 40
    assert {row.id for row in rows(engine) if row.state == "done"} == ids
    assert len(calls) == 40 == len(set(calls))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Peer)).one() == 40


def test_handlers_can_ask_for_fetches(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    note = {"id": actor_server.url("/notes/1"), "type": "Note", "attributedTo": amina.uri, "content": "hi"}
    actor_server.serve_json("/notes/1", note)
    runs: list[str] = []

    def announce(ctx: ProcessingContext, item: Activity) -> Outcome:
        runs.append("run")
        sender = ctx.actor(amina.uri)
        assert item.object_id is not None
        document = ctx.document(item.object_id)
        ctx.session.add(Peer(domain=f"{sender.preferred_username}:{document['content']}"))
        return Outcome.DONE

    registry = by_type({"Announce": announce})

    store(engine, activity("Announce", actor=amina.uri, object=note["id"]))
    store(engine, activity("Announce", actor=amina.uri, object=actor_server.url("/notes/missing")))
    run_jobs(loopback_settings, engine, registry)
    found, missing = rows(engine)
    assert found.state == "done" and len(runs) >= 3
    assert missing.state == "failed" and "404" in missing.error
    with Session(engine) as session:
        assert session.exec(select(Peer.domain).where(col(Peer.domain) == "amina:hi")).one()
    assert actor_server.hits("/notes/1") == 1 and actor_server.hits(amina.path) == 1


def test_transient_fetch_failures_are_retried(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    def announce(ctx: ProcessingContext, item: Activity) -> Outcome:
        assert item.object_id is not None
        ctx.document(item.object_id)
        return Outcome.DONE

    registry = by_type({"Announce": announce})

    actor_server.serve_json("/notes/1", {"id": "x"}, status=503)
    store(engine, activity("Announce", object=actor_server.url("/notes/1")))
    store(engine, activity("Announce", object="http://testserver/notes/ours"))
    run_jobs(loopback_settings, engine, registry)
    transient, local = rows(engine)
    assert transient.state == "pending" and transient.attempts == 1
    assert local.state == "failed" and "ours" in local.error


def test_needs_fetch_loops_are_cut(loopback_settings: Settings, engine: Engine) -> None:
    def greedy(ctx: ProcessingContext, item: Activity) -> Outcome:
        raise NeedsFetch("http://testserver/always")

    registry = by_type({"Follow": greedy})

    store(engine, activity("Follow"))
    run_jobs(loopback_settings, engine, registry)
    assert rows(engine)[0].state == "failed"


def test_blocked_domains_are_ignored_at_processing(loopback_settings: Settings, engine: Engine) -> None:
    registry = by_type({"Follow": lambda ctx, item: Outcome.DONE})
    store(engine, activity("Follow"))
    with session_scope(engine) as session:
        session.add(DomainBlock(domain="a.example"))
    run_jobs(loopback_settings, engine, registry)
    row = rows(engine)[0]
    assert (row.state, row.error) == ("ignored", "domain blocked")


def test_blocked_accounts_are_ignored_at_processing(loopback_settings: Settings, engine: Engine) -> None:
    registry = by_type({"Follow": lambda ctx, item: Outcome.DONE})
    store(engine, activity("Follow"))
    store(engine, activity("Follow", actor="https://a.example/users/bruno"))  # same server, not blocked
    with session_scope(engine) as session:
        session.add(BlockedAccount(actor_uri=REMOTE))
    run_jobs(loopback_settings, engine, registry)
    assert [(row.state, row.error) for row in rows(engine)] == [("ignored", "account blocked"), ("done", "")]


def test_unreadable_payload_fails(loopback_settings: Settings, engine: Engine) -> None:
    row_id = store(engine, activity("Follow"))
    with session_scope(engine) as session:
        row = session.get(InboxActivity, row_id)
        assert row is not None
        row.payload = "[]"
        session.add(row)
    run_jobs(loopback_settings, engine, by_type({}, stored=("Follow",)))
    assert rows(engine)[0].state == "failed"


# --- an actor's own Update and Delete (the social graph's handlers) -----------------------------------


def builtins() -> Dispatcher:
    return Dispatcher(
        [
            contribution(
                "actors",
                types=("Update", "Delete"),
                kinds=(inbound.ACTOR_UPDATED, inbound.ACTOR_DELETED),
                classify=inbound.classify,
                handlers={
                    inbound.ACTOR_UPDATED: (inbound.on_actor_updated,),
                    inbound.ACTOR_DELETED: (inbound.on_actor_deleted,),
                },
            )
        ]
    )


def test_delete_of_an_actor_removes_what_we_hold(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    asyncio.run(_cache(loopback_settings, engine, amina.uri))
    with session_scope(engine) as session:
        session.add(
            Follow(follower_uri=amina.uri, followee_uri="http://testserver/users/bob", activity_id="f1")
        )
        session.add(
            Follow(follower_uri="http://testserver/users/bob", followee_uri=amina.uri, activity_id="f2")
        )
        session.add(Follow(follower_uri=REMOTE, followee_uri="http://testserver/users/bob", activity_id="f3"))
    store(engine, activity("Delete", actor=amina.uri, object=amina.uri))
    store(engine, activity("Delete", actor=amina.uri, object=amina.uri + "/notes/1"))
    run_jobs(loopback_settings, engine, builtins())
    assert [row.state for row in rows(engine)] == ["done", "ignored"]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(RemoteActor)).one() == 0
        assert session.exec(select(Follow.activity_id)).all() == ["f3"]


def test_update_of_an_actor_refreshes_the_cache(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    asyncio.run(_cache(loopback_settings, engine, amina.uri))
    amina.publish(name="Amina Benali")
    store(engine, activity("Update", actor=amina.uri, object=amina.document()))
    store(engine, activity("Update", actor=amina.uri, object={"id": amina.uri + "/notes/1", "type": "Note"}))
    run_jobs(loopback_settings, engine, builtins())
    assert [row.state for row in rows(engine)] == ["done", "ignored"]
    with Session(engine) as session:
        assert session.exec(select(RemoteActor.name)).one() == "Amina Benali"
    assert actor_server.hits(amina.path) == 2


async def _cache(settings: Settings, engine: Engine, uri: str) -> None:
    remote = RemoteActors(settings, engine)
    try:
        await remote.get_actor(uri)
    finally:
        await remote.aclose()


def test_one_actors_activities_are_processed_in_order(loopback_settings: Settings, engine: Engine) -> None:
    finished: list[str] = []

    def record(ctx: ProcessingContext, item: Activity) -> Outcome:
        if item.type == "Follow":
            time.sleep(0.3)  # a slow first activity must still finish first
        finished.append(item.type)
        return Outcome.DONE

    registry = by_type({"Follow": record, "Undo": record})
    store(engine, activity("Follow"))
    store(engine, activity("Undo", object=REMOTE + "/follows/1"))
    run_jobs(loopback_settings, engine, registry)
    assert finished == ["Follow", "Undo"]
