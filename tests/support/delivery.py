"""Helpers for delivery tests: a real inbox server on loopback that records what it receives and
answers as told, remote actors and followers in the cache, and a delivery job stepped by hand."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy import Engine, update
from sqlmodel import col, select

from node.accounts.actors import DIRECTORY
from node.accounts.models import User
from node.activitypub import addressing, keys
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.models import Delivery, Follow, FollowState, OutboxActivity, RemoteActor
from node.activitypub.outbox.delivery import ResolveInbox
from node.activitypub.outbox.job import DeliveryJob
from node.activitypub.outbox.publish import publish
from node.activitypub.signatures import (
    Headers,
    SignedRequest,
    load_public_key_pem,
    parse_signature,
    verify_signature,
)
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.settings import Settings

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Reply:
    """How the sink answers one request: a status, headers, and a delay before answering."""

    status: int = 202
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    body: bytes = b""


@dataclass(frozen=True)
class Received:
    """A request as the sink got it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value

    @property
    def activity_id(self) -> str:
        return str(self.json()["id"])

    def signed_request(self) -> SignedRequest:
        return SignedRequest(self.method, self.target, Headers(self.headers), self.body)


@dataclass
class InboxSink:
    """An HTTP server (uvicorn, in a thread) on 127.0.0.1 recording every request.

    ``answer(path, *replies)`` sets the replies for a path, in order, the last one repeating; other
    POSTs get 202. ``documents`` are served to GETs as ActivityStreams JSON.
    """

    requests: list[Received] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    _plans: dict[str, list[Reply]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._plans[path] = list(replies)

    def posts(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s ({len(self.requests)} requests)")
            time.sleep(0.02)

    def _reply_for(self, method: str, path: str) -> tuple[Reply, bytes, str]:
        with self._lock:
            plan = self._plans.get(path)
            if plan:
                reply = plan.pop(0) if len(plan) > 1 else plan[0]
                return reply, reply.body, "text/plain"
            if method == "GET":
                document = self.documents.get(path)
                if document is None:
                    return Reply(404), b"", "text/plain"
                return Reply(200), json.dumps(document).encode(), "application/activity+json"
            return Reply(202), b"", "text/plain"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        with self._lock:
            self.requests.append(Received(scope["method"], target, headers, b"".join(chunks)))
        reply, body, content_type = self._reply_for(scope["method"], scope["path"])
        waited = 0.0
        while waited < reply.delay and not self._stopping.is_set():
            await asyncio.sleep(0.02)
            waited += 0.02
        headers_out = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        headers_out += [(k.encode(), v.encode()) for k, v in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers_out})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def running_sink() -> Iterator[InboxSink]:
    """An :class:`InboxSink` listening on a free loopback port for the duration of the block."""
    sink = InboxSink()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sink.port = sock.getsockname()[1]
    config = uvicorn.Config(
        sink, lifespan="off", ws="none", log_level="error", access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the inbox sink did not start")
            time.sleep(0.01)
        yield sink
    finally:
        sink._stopping.set()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# --- data ------------------------------------------------------------------------------------------


def local_person(settings: Settings, engine: Engine, username: str) -> LocalActor:
    """The actor of an existing account, with its key pair created."""
    with session_scope(engine, write=True) as session:
        user = session.exec(select(User).where(col(User.username) == username)).one()
        actor = local.person(settings, user)
        local.private_key(settings, actor, session=session)
        return actor


def public_key(engine: Engine, actor: LocalActor) -> str:
    with session_scope(engine) as session:
        row = keys.current_key(actor.key_owner, session=session)
        assert row is not None
        return row.public_pem


def add_remote_actor(
    engine: Engine, base: str, name: str, *, shared: bool = True, gone: bool = False
) -> RemoteActor:
    """A cached remote actor ``{base}/users/{name}``, with the shared inbox ``{base}/inbox`` if ``shared``."""
    uri = f"{base}/users/{name}"
    row = RemoteActor(
        uri=uri,
        domain=addressing.domain_of(uri),
        inbox=uri + "/inbox",
        shared_inbox=f"{base}/inbox" if shared else None,
        preferred_username=name,
        gone_at=utcnow() if gone else None,
    )
    with session_scope(engine, write=True) as session:
        session.add(row)
    return row


def add_follower(
    engine: Engine, followee: LocalActor, follower_uri: str, state: FollowState = FollowState.ACCEPTED
) -> None:
    with session_scope(engine, write=True) as session:
        session.add(
            Follow(
                follower_uri=follower_uri,
                followee_uri=followee.uri,
                activity_id=follower_uri + "#follow-" + followee.username,
                state=state.value,
            )
        )


def publish_note(
    settings: Settings, engine: Engine, actor: LocalActor, text: str = "Bonjour", **targets: Any
) -> OutboxActivity:
    """Publish a public ``Create(Note)`` from ``actor`` (``targets`` go to :func:`publish`)."""
    note_id = local.new_activity_id(settings) + "/note"
    activity = {
        "type": "Create",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [actor.followers],
        "object": {"id": note_id, "type": "Note", "attributedTo": actor.uri, "content": text},
    }
    with session_scope(engine, write=True) as session:
        return publish(settings, actor=actor, activity=activity, public=True, session=session, **targets)


def deliveries(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())


def make_due(engine: Engine) -> None:
    """Bring every pending retry forward to now, as if its backoff had passed."""
    with session_scope(engine, write=True) as session:
        session.execute(
            update(Delivery).where(col(Delivery.state) == "pending").values(next_attempt_at=utcnow())
        )


def verify(received: Received, public_pem: str) -> None:
    """Raise unless ``received`` carries a valid signature by ``public_pem``'s key."""
    request = received.signed_request()
    verify_signature(request, parse_signature(request), load_public_key_pem(public_pem))


def step(
    settings: Settings,
    engine: Engine,
    *,
    passes: int = 1,
    resolve_inbox: ResolveInbox | None = None,
    **kwargs: Any,
) -> int:
    """Run ``passes`` passes of a fresh delivery job; how many deliveries it claimed in all."""

    async def go() -> int:
        job = DeliveryJob(settings, engine, resolve_inbox=resolve_inbox, **kwargs, accounts=DIRECTORY)
        try:
            return sum([await job.run_once() for _ in range(passes)])
        finally:
            await job.aclose()

    return asyncio.run(go())


def drain(settings: Settings, engine: Engine, **kwargs: Any) -> int:
    """Run a fresh delivery job until a pass finds nothing due; how many deliveries it claimed."""

    async def go() -> int:
        job = DeliveryJob(settings, engine, **kwargs, accounts=DIRECTORY)
        total = 0
        try:
            while count := await job.run_once():
                total += count
            return total
        finally:
            await job.aclose()

    return asyncio.run(go())
