"""Remote actors for tests: a real actor server on loopback, actors it serves with their key pairs
(who sign activities as Mastodon does), and a stand-in for the remote-actor cache's key lookup."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub.signatures import VerificationKey, public_pem, sign_cavage
from node.settings import Settings

AS_TYPE = "application/activity+json"


@dataclass
class Reply:
    """What the actor server answers on one path."""

    status: int = 200
    body: bytes = b""
    content_type: str = AS_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class ActorServer:
    """An HTTP server on 127.0.0.1, in a thread, answering each path from ``routes`` (404 otherwise)."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for seen, _ in self.requests if seen == path)

    def serve_json(self, path: str, document: dict[str, Any], status: int = 200) -> None:
        self.routes[path] = Reply(status=status, body=json.dumps(document).encode())

    def __enter__(self) -> ActorServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                path = self.path.partition("?")[0]
                with owner._lock:
                    owner.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                reply = owner.routes.get(path, Reply(404, b'{"error": "not found"}'))
                if reply.delay and owner._stopping.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@lru_cache(maxsize=8)
def fixed_key(number: int) -> rsa.RSAPrivateKey:
    """A fixed RSA-2048 key pair per number, generated once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class RemoteTestActor:
    """An actor served by an :class:`ActorServer`, with its key pair; it can sign activities."""

    server: ActorServer
    name: str
    key: rsa.RSAPrivateKey

    @property
    def uri(self) -> str:
        return self.server.url(f"/users/{self.name}")

    @property
    def key_id(self) -> str:
        return self.uri + "#main-key"

    @property
    def path(self) -> str:
        return f"/users/{self.name}"

    def document(self, **overrides: Any) -> dict[str, Any]:
        document: dict[str, Any] = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "summary": "<p>Hello</p>",
            "inbox": self.uri + "/inbox",
            "outbox": self.uri + "/outbox",
            "followers": self.uri + "/followers",
            "endpoints": {"sharedInbox": self.server.url("/inbox")},
            "publicKey": {"id": self.key_id, "owner": self.uri, "publicKeyPem": public_pem(self.key)},
        }
        document.update(overrides)
        return document

    def publish(self, **overrides: Any) -> RemoteTestActor:
        self.server.serve_json(self.path, self.document(**overrides))
        return self

    def activity(self, kind: str = "Create", **fields: Any) -> dict[str, Any]:
        activity_id = f"{self.uri}/activities/{uuid.uuid4()}"
        body: dict[str, Any] = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": activity_id,
            "type": kind,
            "actor": self.uri,
        }
        if kind == "Create":
            body["object"] = {
                "id": activity_id + "/note",
                "type": "Note",
                "attributedTo": self.uri,
                "content": "Bonjour",
            }
        body.update(fields)
        return body

    def signed_headers(
        self,
        url: str,
        body: bytes,
        *,
        key: rsa.RSAPrivateKey | None = None,
        key_id: str | None = None,
        now: datetime | None = None,
        content_type: str = AS_TYPE,
    ) -> dict[str, str]:
        """Headers of a POST of ``body`` to ``url`` signed as Mastodon signs (Host included)."""
        headers = {"Content-Type": content_type}
        headers.update(
            sign_cavage(
                "POST", url, headers, body, key_id=key_id or self.key_id, private_key=key or self.key, now=now
            )
        )
        return headers


def actor_on(server: ActorServer, name: str, key_number: int = 0) -> RemoteTestActor:
    return RemoteTestActor(server, name, fixed_key(key_number)).publish()


class FakeKeyLookup:
    """Stands for the remote-actor cache: known keys, and a different answer when refreshing."""

    def __init__(self, key: VerificationKey | None, refreshed: VerificationKey | None = None) -> None:
        self.key = key
        self.refreshed = refreshed if refreshed is not None else key
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, refresh: bool) -> VerificationKey | None:
        self.calls.append((key_id, refresh))
        key = self.refreshed if refresh else self.key
        return key if key is not None and key.key_id == key_id else None


# Named ``*_fixture``, so that test modules import them and use them by name.
@pytest.fixture(name="actor_server")
def actor_server_fixture() -> Iterator[ActorServer]:
    with ActorServer() as server:
        yield server


@pytest.fixture(name="loopback_settings")
def loopback_settings_fixture(settings: Settings) -> Settings:
    """The test settings, allowed to fetch from the loopback actor server, with a short timeout."""
    return settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3)
