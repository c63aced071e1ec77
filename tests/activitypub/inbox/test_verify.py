"""The inbox pipeline: each check in its order, with real keys served by a loopback actor server,
the database checked after every refusal (nothing stored), and the routes over ASGI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.activitypub.actors.remote import RemoteActors, block_candidates
from node.activitypub.inbox.verify import (
    BLOCK_SLOTS,
    STORED_COLUMNS,
    AcceptOutcome,
    ActorMismatch,
    DomainBlockedError,
    GroupCommit,
    Inbox,
    InboxError,
    IncomingRequest,
    InvalidActivity,
    InvalidJson,
    KeyUnavailable,
    MalformedRequest,
    MissingSignature,
    OriginMismatch,
    PayloadTooLarge,
    Result,
    Unauthenticated,
    UnsupportedMediaType,
    block_slots,
    sanitise,
    store_statement,
)
from node.activitypub.models import DomainBlock, InboxActivity, InboxState
from node.activitypub.signatures import Headers, sign_rfc9421
from node.app import create_app
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.actors import (
    AS_TYPE,
    ActorServer,
    RemoteTestActor,
    Reply,
    actor_on,
    actor_server_fixture,  # noqa: F401 - a fixture used by name
    fixed_key,
)

INBOX_URL = "http://testserver/inbox"
SIGNER = "https://a.example/users/amina"


@pytest.fixture
def loopback_settings(settings: Settings) -> Settings:
    return settings.replace(
        allow_private_addresses=True, fetch_timeout_seconds=2, max_body_bytes=4096, embedded_worker=False
    )


KNOWN_TYPES = frozenset({"Create", "Follow", "Delete", "Update", "Announce", "Accept"})


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(InboxActivity)).one()


def request_for(
    actor: RemoteTestActor, body: bytes, *, target: str = "/inbox", **signing: Any
) -> IncomingRequest:
    headers = actor.signed_headers("http://testserver" + target, body, **signing)
    return IncomingRequest("POST", target, Headers(headers), body, scheme="http")


def accept(
    settings: Settings, engine: Engine, *requests: IncomingRequest, refetch_interval: float = 0
) -> list[AcceptOutcome | InboxError]:
    """Each request's outcome, or the error it was refused with, through one inbox."""

    async def main() -> list[AcceptOutcome | InboxError]:
        remote = RemoteActors(settings, engine, refetch_interval=refetch_interval)
        inbox = Inbox(settings, engine, remote, accepted_types=KNOWN_TYPES)
        results: list[AcceptOutcome | InboxError] = []
        try:
            for request in requests:
                try:
                    results.append(await inbox.accept(request, recipient_user_id=None))
                except InboxError as exc:
                    results.append(exc)
        finally:
            await remote.aclose()
        return results

    return asyncio.run(main())


def refused(settings: Settings, engine: Engine, request: IncomingRequest) -> InboxError:
    (result,) = accept(settings, engine, request)
    assert isinstance(result, InboxError), result
    assert count(engine) == 0
    return result


def body_of(activity: dict[str, Any]) -> bytes:
    return json.dumps(activity).encode()


# --- accepted ----------------------------------------------------------------------------------------


def test_signed_activity_is_stored_once(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    body = body_of(amina.activity())
    first, replay = accept(loopback_settings, engine, request_for(amina, body), request_for(amina, body))
    assert isinstance(first, AcceptOutcome) and first.result is Result.STORED and first.status_code == 202
    assert isinstance(replay, AcceptOutcome) and replay.result is Result.DUPLICATE
    with Session(engine) as session:
        row = session.exec(select(InboxActivity)).one()
    assert row.id == first.inbox_id and row.state == InboxState.PENDING.value
    assert row.actor_uri == amina.uri and row.key_id == amina.key_id and row.type == "Create"
    assert row.payload == body.decode()  # the bytes received, as verified
    assert actor_server.hits(amina.path) == 1


def test_rfc9421_signature_with_content_digest(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    body = body_of(amina.activity())
    headers = {"Content-Type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
    headers.update(
        sign_rfc9421(
            "POST", INBOX_URL, headers, body, key_id=amina.key_id, private_key=amina.key, covered=None
        )
    )
    (result,) = accept(
        loopback_settings, engine, IncomingRequest("POST", "/inbox", Headers(headers), body, "http")
    )
    assert isinstance(result, AcceptOutcome) and result.result is Result.STORED


def test_actor_as_a_one_element_list(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    activity = {**amina.activity(), "actor": [amina.uri]}
    (result,) = accept(loopback_settings, engine, request_for(amina, body_of(activity)))
    assert isinstance(result, AcceptOutcome) and result.result is Result.STORED


def test_unknown_type_is_answered_202_and_dropped(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    (result,) = accept(loopback_settings, engine, request_for(amina, body_of(amina.activity("Dance"))))
    assert isinstance(result, AcceptOutcome) and result.result is Result.IGNORED
    assert count(engine) == 0


def test_key_rotation_is_followed_by_one_refetch(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    before = request_for(amina, body_of(amina.activity()))
    amina.key = fixed_key(1)
    after = request_for(amina, body_of(amina.activity()))

    async def rotate_between() -> list[str]:
        remote = RemoteActors(loopback_settings, engine)
        inbox = Inbox(loopback_settings, engine, remote, accepted_types=KNOWN_TYPES)
        try:
            first = await inbox.accept(before, recipient_user_id=None)
            amina.publish()  # the new key is published
            second = await inbox.accept(after, recipient_user_id=None)
            return [first.result.value, second.result.value]
        finally:
            await remote.aclose()

    assert asyncio.run(rotate_between()) == ["stored", "stored"]
    assert actor_server.hits(amina.path) == 2


def test_embedded_objects_of_other_origins_are_replaced_by_their_ids(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    note = {"id": "https://b.example/notes/1", "type": "Note", "attributedTo": "https://b.example/users/b"}
    announce = amina.activity("Announce", object=note)
    (result,) = accept(loopback_settings, engine, request_for(amina, body_of(announce)))
    assert isinstance(result, AcceptOutcome) and result.result is Result.STORED
    with Session(engine) as session:
        row = session.exec(select(InboxActivity)).one()
    assert json.loads(row.payload)["object"] == "https://b.example/notes/1"


# --- sanitise (pure) ---------------------------------------------------------------------------------


def test_sanitise_keeps_trusted_and_replaces_untrusted() -> None:
    undo = {
        "type": "Undo",
        "actor": SIGNER,
        "object": {
            "id": "https://a.example/follows/1",
            "type": "Follow",
            "actor": SIGNER,
            "object": "https://testserver/users/bob",
        },
    }
    assert sanitise(undo, SIGNER) == (undo, False)
    accept_follow = {
        "type": "Accept",
        "actor": SIGNER,
        "object": {"id": "http://testserver/f/1", "actor": "x"},
    }
    assert sanitise(accept_follow, SIGNER) == ({**accept_follow, "object": "http://testserver/f/1"}, True)
    nested = {
        "type": "Undo",
        "object": {"id": "https://a.example/an/1", "object": {"id": "https://b.example/n"}},
    }
    cleaned, changed = sanitise(nested, SIGNER)
    assert changed and cleaned["object"]["object"] == "https://b.example/n"
    transient = {"type": "Like", "object": {"type": "Note", "content": "no id, no attribution"}}
    assert sanitise(transient, SIGNER) == (transient, False)


@pytest.mark.parametrize(
    "activity",
    [
        {"type": "Create", "object": {"id": "https://b.example/n/1", "attributedTo": SIGNER}},
        {"type": "Create", "object": {"id": "https://a.example/n/1", "attributedTo": "https://b.example/u"}},
        {
            "type": "Create",
            "object": {"id": "https://a.example/n/1", "attributedTo": [SIGNER, "https://b.ex/"]},
        },
        {"type": "Update", "object": {"id": "https://b.example/users/b", "type": "Person"}},
        {"type": "Delete", "object": "https://b.example/n/1"},
        {"type": "Delete", "object": ["https://a.example/n/1", "https://b.example/n/1"]},
        {"type": "Announce", "object": {"type": "Note", "attributedTo": "https://b.example/u"}},
    ],
)
def test_sanitise_refuses_spoofed_origins(activity: dict[str, Any]) -> None:
    with pytest.raises(OriginMismatch):
        sanitise({"actor": SIGNER, **activity}, SIGNER)


def test_sanitise_limits() -> None:
    with pytest.raises(InvalidActivity, match="no id"):
        sanitise({"type": "Create", "object": {"type": "Note"}}, SIGNER)
    deep: dict[str, Any] = {"type": "Note"}
    for _ in range(12):
        deep = {"type": "Announce", "object": deep}
    with pytest.raises(InvalidActivity, match="nests"):
        sanitise(deep, SIGNER)
    with pytest.raises(InvalidActivity, match="too many"):
        sanitise({"type": "Announce", "object": ["https://b.example/x"] * 101}, SIGNER)


# --- refused: nothing stored -------------------------------------------------------------------------


def test_content_type_size_and_json(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    body = body_of(amina.activity())
    assert isinstance(
        refused(loopback_settings, engine, request_for(amina, body, content_type="application/json")),
        UnsupportedMediaType,
    )
    big = body_of(amina.activity(padding="x" * 5000))
    assert isinstance(refused(loopback_settings, engine, request_for(amina, big)), PayloadTooLarge)
    for garbage in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe\x00", b'{"a": NaN}', b"[" * 100_000):
        assert isinstance(refused(loopback_settings, engine, request_for(amina, garbage[:4000])), InvalidJson)
    assert actor_server.hits(amina.path) == 0  # refused before any key was looked up


def test_digest_checks(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")
    body = body_of(amina.activity())
    signed = request_for(amina, body)
    changed = IncomingRequest("POST", "/inbox", signed.headers, body.replace(b"Bonjour", b"Bonsoir"), "http")
    assert refused(loopback_settings, engine, changed).status_code == 401
    no_digest = IncomingRequest(
        "POST", "/inbox", Headers([h for h in signed.headers.lines() if h[0] != "Digest"]), body, "http"
    )
    assert type(refused(loopback_settings, engine, no_digest)) is Unauthenticated
    bad = IncomingRequest("POST", "/inbox", signed.headers.replace({"Digest": "SHA-256=!!"}), body, "http")
    assert type(refused(loopback_settings, engine, bad)) is MalformedRequest


def test_signature_checks(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")
    bob = actor_on(actor_server, "bob", key_number=1)
    body = body_of(amina.activity())
    signed = request_for(amina, body)
    unsigned = IncomingRequest(
        "POST", "/inbox", Headers([h for h in signed.headers.lines() if h[0] != "Signature"]), body, "http"
    )
    assert isinstance(refused(loopback_settings, engine, unsigned), MissingSignature)
    garbled = IncomingRequest(
        "POST", "/inbox", signed.headers.replace({"Signature": 'keyId="x",sig'}), body, "http"
    )
    assert type(refused(loopback_settings, engine, garbled)) is MalformedRequest
    # Signed with a key that is not the one amina publishes.
    assert refused(loopback_settings, engine, request_for(amina, body, key=fixed_key(3))).status_code == 401
    # Signed by bob, with bob's key, for an activity that says amina did it.
    assert isinstance(
        refused(loopback_settings, engine, request_for(amina, body, key=bob.key, key_id=bob.key_id)),
        ActorMismatch,
    )
    now = datetime.now(UTC)
    for when in (now - timedelta(hours=2), now + timedelta(hours=2)):
        assert type(refused(loopback_settings, engine, request_for(amina, body, now=when))) is Unauthenticated
    # A signature for another path does not verify here.
    other_path = request_for(amina, body, target="/users/x/inbox")
    moved = IncomingRequest("POST", "/inbox", other_path.headers, body, "http")
    assert refused(loopback_settings, engine, moved).status_code == 401


def test_activity_checks(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")
    cases: list[tuple[dict[str, Any], type[InboxError]]] = [
        ({"actor": None}, InvalidActivity),
        ({"id": None}, InvalidActivity),
        ({"id": "https://b.example/activities/1"}, OriginMismatch),
        ({"type": ["Create"]}, InvalidActivity),
        ({"object": {"id": "https://b.example/n/1", "type": "Note"}}, OriginMismatch),
        ({"id": actor_server.url("/a/\ud800")}, InvalidActivity),
        ({"type": "Follow", "object": None}, InvalidActivity),
        ({"to": 5}, InvalidActivity),
        ({"published": "yesterday"}, InvalidActivity),
    ]
    for change, error in cases:
        activity = {**amina.activity(), **change}
        body = json.dumps(activity).encode()
        result = refused(loopback_settings, engine, request_for(amina, body))
        assert isinstance(result, error), (change, result)


def test_key_problems(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = RemoteTestActor(actor_server, "amina", fixed_key(0))
    body = body_of(amina.activity())
    actor_server.routes[amina.path] = Reply(200, b"garbage")
    assert isinstance(refused(loopback_settings, engine, request_for(amina, body)), KeyUnavailable)
    local_key = request_for(amina, body, key_id="http://testserver/users/x#main-key")
    assert isinstance(refused(loopback_settings, engine, local_key), KeyUnavailable)
    actor_server.routes[amina.path] = Reply(200, b"{}", delay=10)
    assert isinstance(refused(loopback_settings, engine, request_for(amina, body)), KeyUnavailable)


def test_blocked_domain(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")

    async def main() -> list[str]:
        remote = RemoteActors(loopback_settings, engine)
        inbox = Inbox(loopback_settings, engine, remote, accepted_types=KNOWN_TYPES)
        outcomes = []
        try:
            await remote.key_for(amina.key_id)  # the key is now in memory: the block must still hold
            with session_scope(engine) as session:
                session.add(DomainBlock(domain="127.0.0.1"))
            for _ in range(2):
                try:
                    await inbox.accept(request_for(amina, body_of(amina.activity())), recipient_user_id=None)
                    outcomes.append("accepted")
                except DomainBlockedError as exc:
                    outcomes.append(exc.code)
                remote._keys.clear()  # and without the memory cache: refused from the table
        finally:
            await remote.aclose()
        return outcomes

    assert asyncio.run(main()) == ["domain_blocked", "domain_blocked"]
    assert count(engine) == 0
    assert actor_server.hits(amina.path) == 1


def test_delete_by_a_gone_actor_is_dropped_quietly(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = RemoteTestActor(actor_server, "amina", fixed_key(0))
    actor_server.routes[amina.path] = Reply(410, b"{}")
    delete = amina.activity("Delete", object=amina.uri)
    (result,) = accept(loopback_settings, engine, request_for(amina, body_of(delete)))
    assert isinstance(result, AcceptOutcome) and result.result is Result.IGNORED
    create = refused(loopback_settings, engine, request_for(amina, body_of(amina.activity())))
    assert isinstance(create, KeyUnavailable)


# --- routes ------------------------------------------------------------------------------------------


@pytest.fixture
def inbox_client(loopback_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(loopback_settings, engine=engine)
    assert hasattr(app.state, "inbox") and callable(app.state.key_lookup)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_routes(actor_server: ActorServer, inbox_client: TestClient, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")
    make_user(engine, "bob")
    for path in ("/inbox", "/actor/inbox", "/users/bob/inbox"):
        body = body_of(amina.activity())
        response = inbox_client.post(
            path, content=body, headers=amina.signed_headers("http://testserver" + path, body)
        )
        assert response.status_code == 202, response.text
        assert response.content == b""
        assert inbox_client.get(path, headers={"Accept": AS_TYPE}).status_code == 405
    with Session(engine) as session:
        rows = session.exec(select(InboxActivity).order_by(col(InboxActivity.id))).all()
    assert [row.recipient_user_id is not None for row in rows] == [False, False, True]
    body = body_of(amina.activity())
    missing = inbox_client.post(
        "/users/nobody/inbox",
        content=body,
        headers=amina.signed_headers("http://testserver/users/nobody/inbox", body),
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    unsigned = inbox_client.post("/inbox", content=body, headers={"Content-Type": AS_TYPE})
    assert unsigned.status_code == 401
    assert unsigned.json() == {"error": {"code": "unauthenticated", "message": "The body has no digest."}}
    huge = inbox_client.post("/inbox", content=b"x" * 5000, headers={"Content-Type": AS_TYPE})
    assert huge.status_code == 413
    assert count(engine) == 3


# --- group commit ------------------------------------------------------------------------------------


def test_group_commit_stores_concurrent_rows_and_isolates_a_bad_one(engine: Engine) -> None:
    writer = GroupCommit(engine, store_statement(engine.dialect.name), max_batch=8)
    now = utcnow()

    def row(number: int) -> dict[str, Any]:
        values: dict[str, Any] = dict.fromkeys(STORED_COLUMNS, "x")
        values.update(
            activity_id=f"https://a.example/{number}",
            attempts=0,
            recipient_user_id=None,
            next_attempt_at=now,
            received_at=now,
        )
        values.update(block_slots(["a.example"]))
        if number == 5:
            values["payload"] = None  # refused by the database: NOT NULL
        return values

    async def main() -> list[int | None | BaseException]:
        rows = [row(n) for n in range(20)] + [row(3)]  # the last one repeats an id
        return await asyncio.gather(*(writer.run(values) for values in rows), return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[5], Exception)
    assert results[-1] is None  # already stored: nothing returned
    stored_ids = [result for result in results if isinstance(result, int)]
    assert len(stored_ids) == 19 == len(set(stored_ids)) == count(engine)


def test_store_statement_checks_every_block_slot(engine: Engine) -> None:
    writer = GroupCommit(engine, store_statement(engine.dialect.name))
    with session_scope(engine) as session:
        session.add(DomainBlock(domain="example.org"))
    now = utcnow()

    def row(number: int, domain: str) -> dict[str, Any]:
        values: dict[str, Any] = dict.fromkeys(STORED_COLUMNS, "x")
        values.update(activity_id=f"https://{domain}/{number}", attempts=0, recipient_user_id=None)
        values.update(next_attempt_at=now, received_at=now)
        values.update(block_slots(block_candidates(domain)))
        return values

    async def main() -> list[int | None]:
        return [
            await writer.run(row(1, "a.b.c.example.org:8443")),  # the parent domain is blocked
            await writer.run(row(2, "example.org")),
            await writer.run(row(3, "example.net")),
        ]

    blocked, direct, allowed = asyncio.run(main())
    assert blocked is None and direct is None and isinstance(allowed, int)
    assert block_candidates("a.b.c.example.org:8443") == [
        "a.b.c.example.org:8443",
        "a.b.c.example.org",
        "b.c.example.org",
        "c.example.org",
        "example.org",
    ]
    assert list(block_slots(["x"]).values()) == ["x"] * BLOCK_SLOTS
