"""Deliveries against a real inbox server on loopback: signatures, retries, Retry-After, refusals,
410 Gone, giving up, blocks, inbox resolution, leases, and the declared lifecycle."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, update
from sqlmodel import col, select

from node.accounts.actors import DIRECTORY
from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.actors.remote import ActorGone, DomainBlocked, FetchFailed, InvalidActor
from node.activitypub.models import Delivery, DeliveryState, DomainBlock, Peer, RemoteActor
from node.activitypub.outbox import delivery
from node.activitypub.outbox.admin import count_by_state, list_deliveries, retry, retry_all_failed
from node.activitypub.outbox.delivery import (
    BACKOFF,
    LIFECYCLE,
    ClaimedDelivery,
    can_transition,
    require_transition,
    settle,
    states_leading_to,
)
from node.activitypub.outbox.job import DeliveryJob
from node.activitypub.transport.fetch import (
    Gone,
    PolicyViolation,
    RemoteError,
    RemoteNotFound,
    RemoteRefused,
    TryLater,
    Unavailable,
)
from node.core.db import make_engine, session_scope
from node.core.errors import Conflict, NotFound
from node.core.statemachine import TransitionRefused
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import (
    InboxSink,
    Reply,
    add_follower,
    add_remote_actor,
    deliveries,
    drain,
    local_person,
    make_due,
    public_key,
    publish_note,
    running_sink,
    step,
    verify,
)

S = DeliveryState


@pytest.fixture
def sink() -> Iterator[InboxSink]:
    with running_sink() as server:
        yield server


@pytest.fixture
def fed(settings: Settings) -> Settings:
    return settings.replace(allow_private_addresses=True, delivery_concurrency=4)


@pytest.fixture
def alice(fed: Settings, engine: Engine) -> LocalActor:
    make_user(engine, "alice")
    return local_person(fed, engine, "alice")


def one(engine: Engine) -> Delivery:
    (row,) = deliveries(engine)
    return row


def peer(engine: Engine, domain: str) -> Peer:
    with session_scope(engine) as session:
        return session.exec(select(Peer).where(col(Peer.domain) == domain)).one()


# --- the lifecycle ---------------------------------------------------------------------------------


def test_the_declared_lifecycle() -> None:
    assert set(LIFECYCLE.edges()) == {
        (S.PENDING, S.SENDING),
        (S.PENDING, S.CANCELLED),
        (S.SENDING, S.DELIVERED),
        (S.SENDING, S.PENDING),
        (S.SENDING, S.FAILED),
        (S.SENDING, S.GONE),
        (S.SENDING, S.CANCELLED),
        (S.FAILED, S.PENDING),
    }
    assert LIFECYCLE.terminal == {S.DELIVERED, S.GONE, S.CANCELLED}
    allowed = set(LIFECYCLE.edges())
    for old in S:
        for new in S:
            assert can_transition(old, new) == ((old, new) in allowed)
    with pytest.raises(TransitionRefused):
        require_transition("delivered", S.PENDING)
    require_transition("failed", S.PENDING)
    assert states_leading_to(S.CANCELLED) == ["pending", "sending"]


# --- the retry policy, without network ------------------------------------------------------------


def test_backoff_is_exponential_jittered_and_capped() -> None:
    rng = random.Random(7)
    cap = timedelta(hours=6)
    assert BACKOFF.cap == cap
    for attempts in range(1, 12):
        base = min(timedelta(seconds=30) * 2 ** (attempts - 1), cap)
        for _ in range(50):
            delay = BACKOFF.after(attempts, rng)
            assert base * 0.8 <= delay <= min(base * 1.2, cap)
    assert BACKOFF.after(40, rng) == cap
    assert len({BACKOFF.after(3, rng) for _ in range(20)}) > 1


def claimed(attempts: int = 1, age: timedelta = timedelta(0)) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=1,
        attempts=attempts,
        outbox_id=1,
        activity_id="https://here.example/activities/1",
        actor_uri="https://here.example/users/alice",
        payload=b"{}",
        target="https://there.example/users/bob",
        inbox_url="https://there.example/inbox",
        domain="there.example",
        created_at=utcnow() - age,
    )


URL = "https://there.example/inbox"


@pytest.mark.parametrize(
    ("error", "state", "peer"),
    [
        (None, S.DELIVERED, True),
        (Unavailable("500", url=URL, status=500), S.PENDING, False),
        (Unavailable("refused", url=URL, reason="connect_failed"), S.PENDING, False),
        (TryLater("503", url=URL, status=503), S.PENDING, False),
        (Gone("410", url=URL, status=410), S.GONE, None),
        (RemoteNotFound("404", url=URL, status=404), S.FAILED, None),
        (RemoteRefused("403", url=URL, status=403), S.FAILED, None),
        (PolicyViolation("private", url=URL, reason="private_address"), S.FAILED, None),
        (ActorGone("gone"), S.GONE, None),
        (DomainBlocked("blocked"), S.CANCELLED, None),
        (InvalidActor("no inbox"), S.FAILED, None),
        (FetchFailed("x", Unavailable("500", url=URL, status=500)), S.PENDING, False),
        (FetchFailed("x", RemoteNotFound("404", url=URL, status=404)), S.FAILED, None),
        (RuntimeError("a bug"), S.PENDING, None),
    ],
)
def test_settle(error: BaseException | None, state: DeliveryState, peer: bool | None) -> None:
    now = utcnow()
    outcome = settle(claimed(), error, now=now, give_up=timedelta(hours=72))
    assert (outcome.state, outcome.peer) == (state, peer)
    assert can_transition(S.SENDING, outcome.state)
    if state is S.PENDING:
        assert outcome.next_attempt_at is not None and outcome.next_attempt_at > now
    else:
        assert outcome.next_attempt_at is None
    if isinstance(error, RemoteError):
        assert outcome.status == error.status


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    now = utcnow()
    long = settle(
        claimed(),
        TryLater("429", url=URL, status=429, retry_after=3600),
        now=now,
        give_up=timedelta(hours=72),
    )
    assert long.next_attempt_at == now + timedelta(seconds=3600)
    short = settle(
        claimed(attempts=5),
        TryLater("429", url=URL, status=429, retry_after=1),
        now=now,
        give_up=timedelta(hours=72),
    )
    assert short.next_attempt_at is not None and short.next_attempt_at >= now + timedelta(
        seconds=30 * 16 * 0.8
    )


def test_giving_up_after_the_period() -> None:
    now = utcnow()
    old = settle(
        claimed(attempts=9, age=timedelta(hours=71, minutes=59)),
        Unavailable("x", url=URL),
        now=now,
        give_up=timedelta(hours=72),
    )
    assert old.state is S.FAILED and old.error.startswith("gave up after 9 attempts")
    recent = settle(
        claimed(attempts=2, age=timedelta(hours=1)),
        Unavailable("x", url=URL),
        now=now,
        give_up=timedelta(hours=72),
    )
    assert recent.state is S.PENDING
    beyond = settle(
        claimed(age=timedelta(hours=1)),
        TryLater("x", url=URL, retry_after=72 * 3600),
        now=now,
        give_up=timedelta(hours=72),
    )
    assert beyond.state is S.FAILED


# --- recording outcomes ----------------------------------------------------------------------------


def test_one_record_writes_every_kind_of_outcome(fed: Settings, engine: Engine, alice: LocalActor) -> None:
    inboxes = [
        "https://a.example/inbox",
        "https://a.example/x",
        "https://b.example/inbox",
        "https://b.example/x",
    ]
    publish_note(fed, engine, alice, inboxes=inboxes, recipients=["https://c.example/users/new"])
    now, give_up = utcnow(), timedelta(hours=72)
    with session_scope(engine, write=True) as session:
        batch = delivery.claim(
            fed, now=now, limit=10, lease=timedelta(minutes=5), session=session, accounts=DIRECTORY
        )
    items = {item.target: item for item in batch.items}
    outcomes = [
        settle(items["https://a.example/inbox"], None, now=now, give_up=give_up, status=202),
        settle(
            items["https://a.example/x"], Unavailable("500", url=URL, status=500), now=now, give_up=give_up
        ),
        settle(items["https://b.example/inbox"], Unavailable("x", url=URL), now=now, give_up=give_up),
        settle(
            items["https://b.example/x"],
            TryLater("429", url=URL, status=429, retry_after=600),
            now=now,
            give_up=give_up,
        ),
        # delivered to an inbox found for this attempt: it is stored with the outcome
        settle(
            items["https://c.example/users/new"],
            None,
            now=now,
            give_up=give_up,
            inbox="https://c.example/inbox",
            status=200,
        ),
    ]
    with session_scope(engine, write=True) as session:
        delivery.record(outcomes, now=now, session=session)
    rows = {row.target: row for row in deliveries(engine)}
    assert {target: (row.state, row.last_status) for target, row in rows.items()} == {
        "https://a.example/inbox": ("delivered", 202),
        "https://a.example/x": ("pending", 500),
        "https://b.example/inbox": ("pending", None),
        "https://b.example/x": ("pending", 429),
        "https://c.example/users/new": ("delivered", 200),
    }
    assert rows["https://c.example/users/new"].inbox_url == "https://c.example/inbox"
    assert rows["https://a.example/inbox"].delivered_at is not None
    assert all(row.lease_until is None and row.attempts == 1 for row in rows.values())
    assert rows["https://b.example/x"].next_attempt_at >= now + timedelta(seconds=600)
    a, b, c = (peer(engine, domain) for domain in ("a.example", "b.example", "c.example"))
    assert (a.state, a.failure_count) == ("ok", 0)
    assert a.last_success_at is not None and a.last_failure_at is not None
    assert (b.state, b.failure_count, b.last_success_at) == ("failing", 2, None)
    assert (c.state, c.failure_count, c.last_failure_at) == ("ok", 0, None)
    # the next write adds to the count of a failing peer, and a success resets it
    make_due(engine)
    later = now + timedelta(seconds=1)
    with session_scope(engine, write=True) as session:
        retried = {
            item.target: item
            for item in delivery.claim(
                fed, now=later, limit=10, lease=timedelta(minutes=5), session=session, accounts=DIRECTORY
            ).items
        }
    assert set(retried) == {"https://a.example/x", "https://b.example/inbox", "https://b.example/x"}
    with session_scope(engine, write=True) as session:
        delivery.record(
            [
                settle(
                    retried["https://b.example/inbox"], Unavailable("x", url=URL), now=later, give_up=give_up
                )
            ],
            now=later,
            session=session,
        )
    assert peer(engine, "b.example").failure_count == 3
    with session_scope(engine, write=True) as session:
        delivery.record(
            [settle(retried["https://b.example/x"], None, now=later, give_up=give_up, status=202)],
            now=later,
            session=session,
        )
    b = peer(engine, "b.example")
    assert (b.state, b.failure_count) == ("ok", 0) and b.first_seen_at == a.first_seen_at


# --- real deliveries -------------------------------------------------------------------------------


def test_one_signed_request_per_shared_inbox(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    base = sink.url("")
    for name in ("bob", "carol", "dan"):
        add_follower(engine, alice, add_remote_actor(engine, base, name).uri)
    add_follower(engine, alice, add_remote_actor(engine, base + "/solo", "erin", shared=False).uri)
    row = publish_note(fed, engine, alice, to_followers=True)
    assert sink.requests == []  # publishing sends nothing
    assert step(fed, engine) == 2
    posts = sink.posts()
    assert sorted(p.path for p in posts) == ["/inbox", "/solo/users/erin/inbox"]
    pem = public_key(engine, alice)
    for post in posts:
        verify(post, pem)
        assert alice.key_id in (post.header("signature") or "")
        assert post.header("content-type") == "application/activity+json"
        assert post.body == row.payload.encode()
        assert post.activity_id == row.activity_id
    assert all(
        d.state == "delivered" and d.attempts == 1 and d.last_status == 202 for d in deliveries(engine)
    )
    assert all(d.delivered_at is not None and d.lease_until is None for d in deliveries(engine))
    assert peer(engine, sink.domain).last_success_at is not None
    assert step(fed, engine) == 0 and len(sink.posts()) == 2


def test_a_server_error_is_retried_with_backoff(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    sink.answer("/inbox", Reply(500), Reply(202))
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    before = utcnow()
    step(fed, engine)
    row = one(engine)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 500)
    assert before + timedelta(seconds=23) <= row.next_attempt_at <= utcnow() + timedelta(seconds=37)
    failing = peer(engine, sink.domain)
    assert (failing.state, failing.failure_count) == ("failing", 1)
    assert failing.last_failure_at is not None
    assert step(fed, engine) == 0  # not due yet
    make_due(engine)
    step(fed, engine)
    row = one(engine)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 2, 202)
    assert (peer(engine, sink.domain).state, peer(engine, sink.domain).failure_count) == ("ok", 0)
    assert len(sink.posts("/inbox")) == 2


@pytest.mark.parametrize(
    ("status", "headers"), [(429, (("Retry-After", "3600"),)), (503, (("Retry-After", "3600"),))]
)
def test_retry_after_is_honoured(
    fed: Settings,
    engine: Engine,
    alice: LocalActor,
    sink: InboxSink,
    status: int,
    headers: tuple[tuple[str, str], ...],
) -> None:
    sink.answer("/inbox", Reply(status, headers))
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    before = utcnow()
    step(fed, engine)
    row = one(engine)
    assert (row.state, row.last_status) == ("pending", status)
    assert row.next_attempt_at >= before + timedelta(seconds=3600)


@pytest.mark.parametrize("status", [404, 403, 400, 401])
def test_no_retry_on_other_client_errors(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink, status: int
) -> None:
    sink.answer("/inbox", Reply(status))
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    step(fed, engine)
    row = one(engine)
    assert (row.state, row.last_status) == ("failed", status)
    make_due(engine)
    assert step(fed, engine) == 0 and len(sink.posts()) == 1


def test_gone_marks_the_actor_and_stops_deliveries(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    bob = add_remote_actor(engine, sink.url(""), "bob", shared=False)
    add_follower(engine, alice, bob.uri)
    sink.answer("/users/bob/inbox", Reply(410))
    publish_note(fed, engine, alice, to_followers=True)
    publish_note(fed, engine, alice, to_followers=True)
    step(fed, engine, batch_size=1)  # only the first delivery
    assert [d.state for d in deliveries(engine)] == ["gone", "pending"]
    with session_scope(engine) as session:
        assert (
            session.exec(select(RemoteActor).where(col(RemoteActor.uri) == bob.uri)).one().gone_at is not None
        )
    step(fed, engine)  # the second one ends as gone without a request
    assert [d.state for d in deliveries(engine)] == ["gone", "gone"]
    assert len(sink.posts()) == 1
    publish_note(fed, engine, alice, to_followers=True)
    assert len(deliveries(engine)) == 2  # a gone follower gets nothing new


def test_giving_up(fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink) -> None:
    sink.answer("/inbox", Reply(500))
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    with session_scope(engine, write=True) as session:
        session.execute(update(Delivery).values(created_at=utcnow() - timedelta(hours=72)))
    step(fed, engine)
    row = one(engine)
    assert row.state == "failed" and row.last_error.startswith("gave up after 1 attempts")


def test_a_slow_inbox_times_out_and_is_retried(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    sink.answer("/inbox", Reply(202, delay=5))
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    step(fed.replace(fetch_timeout_seconds=1), engine)
    row = one(engine)
    assert row.state == "pending" and row.last_status is None and "timeout" in row.last_error


def test_a_domain_blocked_after_publication_gets_nothing(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    with session_scope(engine, write=True) as session:
        session.add(DomainBlock(domain="127.0.0.1"))  # the host, whatever the port
    step(fed, engine)
    assert one(engine).state == "cancelled" and sink.requests == []


def test_deliveries_to_a_deleted_local_actor_fail(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    with session_scope(engine, write=True) as session:
        session.execute(delete(User).where(col(User.username) == "alice"))
    step(fed, engine)
    row = one(engine)
    assert row.state == "failed" and "no signing key" in row.last_error and sink.requests == []


# --- recipients not in the cache -------------------------------------------------------------------


def actor_document(sink: InboxSink, name: str, shared: str | None = "/inbox") -> dict[str, object]:
    uri = sink.url(f"/users/{name}")
    document: dict[str, object] = {"id": uri, "type": "Person", "inbox": uri + "/inbox"}
    if shared:
        document["endpoints"] = {"sharedInbox": sink.url(shared)}
    return document


def test_an_unknown_recipient_is_resolved_then_delivered(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    sink.documents["/users/new"] = actor_document(sink, "new")
    sink.documents["/users/solo"] = actor_document(sink, "solo", shared=None)
    row = publish_note(fed, engine, alice, recipients=[sink.url("/users/new"), sink.url("/users/solo")])
    step(fed, engine)
    gets = [r for r in sink.requests if r.method == "GET"]
    assert sorted(r.path for r in gets) == ["/users/new", "/users/solo"]
    node_pem = public_key(engine, local.node_actor(fed))
    for get in gets:
        verify(get, node_pem)  # signed by the node actor, for authorized-fetch servers
    assert sorted(p.path for p in sink.posts()) == ["/inbox", "/users/solo/inbox"]
    assert all(p.activity_id == row.activity_id for p in sink.posts())
    assert {(d.target, d.inbox_url, d.state) for d in deliveries(engine)} == {
        (sink.url("/users/new"), sink.url("/inbox"), "delivered"),
        (sink.url("/users/solo"), sink.url("/users/solo/inbox"), "delivered"),
    }


def test_a_resolved_inbox_already_served_is_not_posted_twice(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    bob = add_remote_actor(engine, sink.url(""), "bob")
    sink.documents["/users/new"] = actor_document(sink, "new")
    publish_note(fed, engine, alice, recipients=[bob.uri, sink.url("/users/new")])
    step(fed, engine)
    assert [p.path for p in sink.posts()] == ["/inbox"]
    states = {d.target: (d.state, d.last_error) for d in deliveries(engine)}
    assert states[sink.url("/inbox")][0] == "delivered"
    assert states[sink.url("/users/new")][0] == "cancelled"
    assert states[sink.url("/users/new")][1].startswith("same inbox as delivery")


@pytest.mark.parametrize(("status", "state"), [(404, "failed"), (410, "gone"), (500, "pending")])
def test_a_recipient_that_cannot_be_resolved(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink, status: int, state: str
) -> None:
    sink.answer("/users/new", Reply(status))
    publish_note(fed, engine, alice, recipients=[sink.url("/users/new")])
    step(fed, engine)
    assert one(engine).state == state
    assert sink.posts() == []


def test_an_actor_cannot_redirect_deliveries_to_another_origin(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    document = actor_document(sink, "new", shared=None)
    document["inbox"] = "http://127.0.0.2:9/victim"
    sink.documents["/users/new"] = document
    publish_note(fed, engine, alice, recipients=[sink.url("/users/new")])
    step(fed, engine)
    row = one(engine)
    assert row.state == "failed" and "no_inbox" in row.last_error


def test_an_injected_resolver_is_used(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    asked: list[str] = []

    async def resolve(uri: str) -> str:
        asked.append(uri)
        return sink.url("/elsewhere")

    publish_note(fed, engine, alice, recipients=["http://127.0.0.1:9/users/x"])
    step(fed, engine, resolve_inbox=resolve)
    assert asked == ["http://127.0.0.1:9/users/x"]
    assert [p.path for p in sink.posts()] == ["/elsewhere"]


# --- leases: a worker that dies loses nothing ------------------------------------------------------


def test_a_delivery_claimed_by_a_dead_worker_is_sent_after_its_lease(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink
) -> None:
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    with session_scope(engine, write=True) as session:  # a worker claims, then dies before sending
        batch = delivery.claim(
            fed, now=utcnow(), limit=10, lease=timedelta(minutes=5), session=session, accounts=DIRECTORY
        )
    assert len(batch.items) == 1 and one(engine).state == "sending"
    assert step(fed, engine) == 0 and sink.requests == []  # the lease still holds
    with session_scope(engine, write=True) as session:
        session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert step(fed, engine) == 1
    row = one(engine)
    assert (row.state, row.attempts) == ("delivered", 2) and len(sink.posts()) == 1


def test_an_outcome_from_an_expired_claim_is_not_recorded(
    fed: Settings, engine: Engine, alice: LocalActor
) -> None:
    publish_note(fed, engine, alice, inboxes=["http://127.0.0.1:9/inbox"])
    now = utcnow()
    with session_scope(engine, write=True) as session:
        (first,) = delivery.claim(
            fed, now=now, limit=1, lease=timedelta(seconds=1), session=session, accounts=DIRECTORY
        ).items
    with session_scope(engine, write=True) as session:
        (second,) = delivery.claim(
            fed,
            now=now + timedelta(seconds=2),
            limit=1,
            lease=timedelta(minutes=5),
            session=session,
            accounts=DIRECTORY,
        ).items
    assert (first.attempts, second.attempts) == (1, 2)
    with session_scope(engine, write=True) as session:
        delivery.record([settle(first, None, now=now, give_up=timedelta(hours=1))], now=now, session=session)
    assert one(engine).state == "sending"  # the late worker's news is dropped
    with session_scope(engine, write=True) as session:
        delivery.record([settle(second, None, now=now, give_up=timedelta(hours=1))], now=now, session=session)
    assert one(engine).state == "delivered"


def test_outcomes_are_written_by_the_next_pass_and_a_failed_write_loses_nothing(
    fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink, caplog: pytest.LogCaptureFixture
) -> None:
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    publish_note(fed, engine, alice, inboxes=[sink.url("/other")])

    class BrokenDatabase(RuntimeError):
        pass

    async def scenario() -> None:
        job = DeliveryJob(fed, engine, batch_size=1, accounts=DIRECTORY)
        written = job._record
        failures = [BrokenDatabase("the first write fails")]

        def record(outcomes: list[delivery.Outcome]) -> None:
            if failures:
                raise failures.pop()
            written(outcomes)

        job._record = record  # type: ignore[method-assign]
        try:
            assert await job.run_once() == 1  # sent; its write fails in the background
            assert await job.run_once() == 1  # logs the failure, sends the second one
            assert await job.run_once() == 0  # writes the second outcome; nothing else is due
        finally:
            await job.aclose()

    asyncio.run(scenario())
    assert "writing 1 delivery outcomes failed" in caplog.text
    first, second = deliveries(engine)
    assert (first.state, second.state) == ("sending", "delivered")  # the first is held by its lease
    with session_scope(engine, write=True) as session:
        session.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert step(fed, engine) == 1
    assert [(d.state, d.attempts) for d in deliveries(engine)] == [("delivered", 2), ("delivered", 1)]
    assert [p.path for p in sink.posts()] == ["/inbox", "/other", "/inbox"]


# --- several workers -------------------------------------------------------------------------------


def test_two_workers_never_send_the_same_delivery_twice(
    fed: Settings, engine: Engine, database_url: str, alice: LocalActor, sink: InboxSink
) -> None:
    for index in range(20):
        add_follower(engine, alice, add_remote_actor(engine, sink.url(f"/s{index}"), "x", shared=False).uri)
        sink.answer(f"/s{index}/users/x/inbox", Reply(202, delay=0.01))
    for index in range(10):
        publish_note(fed, engine, alice, f"note {index}", to_followers=True)
    claimed_by: list[int] = [0, 0]

    async def work(number: int) -> None:
        job = DeliveryJob(fed, make_engine(database_url), batch_size=7, accounts=DIRECTORY)
        try:
            while count := await job.run_once():
                claimed_by[number] += count
                await asyncio.sleep(0)
        finally:
            await job.aclose()
            job.engine.dispose()

    async def both() -> None:
        await asyncio.gather(work(0), work(1))

    asyncio.run(both())
    seen = Counter((p.path, p.activity_id) for p in sink.posts())
    assert len(seen) == 200 and set(seen.values()) == {1}
    assert sum(claimed_by) == 200 and min(claimed_by) > 0
    with session_scope(engine) as session:
        assert count_by_state(session=session)["delivered"] == 200


# --- listing and retrying --------------------------------------------------------------------------


def test_list_and_retry(fed: Settings, engine: Engine, alice: LocalActor, sink: InboxSink) -> None:
    sink.answer("/refuses", Reply(403), Reply(403), Reply(403), Reply(202))
    row = publish_note(fed, engine, alice, inboxes=[sink.url("/refuses"), sink.url("/inbox")])
    publish_note(fed, engine, alice, inboxes=[sink.url("/refuses")])
    drain(fed, engine)
    with session_scope(engine) as session:
        listed = list_deliveries(session=session)
        failed = list_deliveries(failed_only=True, session=session)
        assert [d.state for d in listed] == ["failed", "delivered", "failed"]
        assert [d.id for d in failed] == [listed[0].id, listed[2].id]
        assert failed[1].activity_id == row.activity_id and failed[1].activity_type == "Create"
        assert failed[1].as_json()["created_at"].endswith("Z") and failed[1].last_status == 403
        assert len(list_deliveries(limit=1, session=session)) == 1
    with session_scope(engine, write=True) as session:
        assert retry(failed[1].id, session=session).state == "pending"
        with pytest.raises(Conflict):
            retry(listed[1].id, session=session)  # delivered
        with pytest.raises(NotFound):
            retry(999_999, session=session)
    drain(fed, engine)  # the retried one is refused again
    with session_scope(engine, write=True) as session:
        assert retry_all_failed(session=session) == 2
    drain(fed, engine)
    with session_scope(engine) as session:
        assert count_by_state(session=session) == {**{s.value: 0 for s in S}, "delivered": 3}
