"""The fetcher against real HTTP servers on loopback: documents, limits, refusals, statuses, POST."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import gzip
import importlib.metadata
import json
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any, TypeVar

import httpcore
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub.signatures import (
    Headers,
    HttpSignatureAuth,
    InvalidSignature,
    SignedRequest,
    parse_signature,
    verify_signature,
)
from node.activitypub.transport.fetch import (
    ACTIVITY_ACCEPT,
    FetchedDocument,
    Fetcher,
    Gone,
    PolicyViolation,
    RemoteError,
    RemoteNotFound,
    RemoteRefused,
    TryLater,
    Unavailable,
    classify_status,
    parse_retry_after,
    retryable,
)
from node.settings import Settings
from tests.support.tls import certificate

T = TypeVar("T")
AS = "application/activity+json"
UA = "asasap/test (+https://node.example/)"
KEY_ID = "https://node.example/actor#main-key"


# --- a small HTTP/1.1 server that does exactly what a test tells it -------------------------------


@dataclass
class Received:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None  # sent with Transfer-Encoding: chunked
    length: bool = True  # False: neither Content-Length nor chunked, the body ends when the connection does
    delay: float = 0.0  # before the status line
    trickle: float = 0.0  # between chunks
    hold: float = 0.0  # after the body, before closing


class Server:
    """Answers each connection's one request from ``routes`` (404 otherwise), then closes it.

    Waits end early when the server stops, so that no handler outlives it.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[Received] = []
        self.connections = 0
        self.port = 0
        self._ssl = ssl_context
        self._handlers: list[Awaitable[None]] = []
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self._ssl else 'http'}://{host}:{self.port}{path}"

    async def __aenter__(self) -> Server:
        self._stopping = asyncio.Event()
        self._handlers = []
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._stopping.set()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; True when the server is stopping."""
        if seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Awaitable[None]:
        handler = asyncio.ensure_future(self._serve(reader, writer))
        self._handlers.append(handler)
        return handler

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            received = await self._read(reader)
            if received is not None:
                self.requests.append(received)
                await self._write(writer, self.routes.get(received.target.partition("?")[0], Reply(404)))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
        body = await reader.readexactly(length) if length else b""
        return Received(method, target, headers, body)

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        if await self._pause(reply.delay):
            return
        head = [f"HTTP/1.1 {reply.status} Whatever", "Connection: close"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.chunks is not None:
            head.append("Transfer-Encoding: chunked")
        elif reply.length:
            head.append(f"Content-Length: {len(reply.body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if reply.chunks is None:
            writer.write(reply.body)
        else:
            for chunk in reply.chunks:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                if await self._pause(reply.trickle):
                    return
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        await self._pause(reply.hold)


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


def make_fetcher(**options: Any) -> Fetcher:
    settings: dict[str, Any] = {"user_agent": UA, "allow_private": True, "timeout": 2.0}
    return Fetcher(**{**settings, **options})


def as_reply(document: object, content_type: str = AS) -> Reply:
    return Reply(200, [("Content-Type", content_type)], json.dumps(document).encode())


def actor(server: Server, path: str = "/users/alice") -> dict[str, Any]:
    return {"id": server.url(path), "type": "Person", "preferredUsername": "alice"}


def resolver(mapping: dict[str, list[str]]) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        return mapping[host]

    return resolve


class SpyBackend(httpcore.AsyncNetworkBackend):
    """Records where the guard asks to connect, then connects there for real."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        return await self.inner.connect_tcp(host, port, timeout=timeout)


def spy_on(fetcher: Fetcher) -> SpyBackend:
    spy = SpyBackend()
    fetcher.transport.backend.inner = spy
    return spy


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signer() -> HttpSignatureAuth:
    return HttpSignatureAuth(key_id=KEY_ID, private_key=rsa_key())


def as_signed(received: Received) -> SignedRequest:
    return SignedRequest(received.method, received.target, Headers(received.headers), received.body or None)


def expect(error: type[RemoteError], scenario: Callable[[], Coroutine[Any, Any, object]]) -> RemoteError:
    with pytest.raises(error) as caught:
        run(scenario)
    return caught.value


# --- documents ------------------------------------------------------------------------------------


def test_fetches_an_actor_with_a_signed_get_that_verifies() -> None:
    async def scenario() -> tuple[FetchedDocument, Server]:
        async with Server() as server:
            server.routes["/users/alice"] = as_reply(
                actor(server), "application/activity+json; charset=utf-8"
            )
            async with make_fetcher(signer=signer()) as fetcher:
                return await fetcher.get_activity(server.url("/users/alice")), server

    fetched, server = run(scenario)
    assert fetched.document == actor(server)
    assert fetched.requested_url == fetched.final_url == server.url("/users/alice")
    assert fetched.content_type == "application/activity+json; charset=utf-8"
    [received] = server.requests
    assert received.header("Accept") == ACTIVITY_ACCEPT
    assert received.header("User-Agent") == UA
    assert received.header("Accept-Encoding") == "identity"
    request = as_signed(received)
    parsed = parse_signature(request)
    assert parsed.key_id == KEY_ID
    assert set(parsed.covered) >= {"(request-target)", "host", "date", "accept"}
    verify_signature(request, parsed, rsa_key().public_key(), scheme="http")
    # the tampering twin: the same signature over another Accept header does not verify
    tampered = SignedRequest("GET", received.target, request.headers.replace({"Accept": "text/html"}))
    with pytest.raises(InvalidSignature):
        verify_signature(tampered, parse_signature(tampered), rsa_key().public_key(), scheme="http")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json",
        "Application/LD+JSON; charset=utf-8",
    ],
)
def test_activitystreams_content_types_are_accepted(content_type: str) -> None:
    async def scenario() -> FetchedDocument:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/a"] = as_reply(actor(server, "/a"), content_type)
            return await fetcher.get_activity(server.url("/a"))

    assert run(scenario).content_type == content_type


# 2 MiB of spaces, 2 KiB on the wire: the cap counts what the body unpacks to.
GZIP_BOMB = gzip.compress(b" " * 2 * 1_048_576)
GZIPPED = [("Content-Type", AS), ("Content-Encoding", "gzip")]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(headers=[("Content-Type", "text/html")], body=b"<html></html>"), "bad_content_type"),
        (Reply(headers=[("Content-Type", "application/json")], body=b"{}"), "bad_content_type"),
        (Reply(body=b"{}"), "bad_content_type"),
        (Reply(headers=[("Content-Type", AS)], body=b"\x00\xff\xfegarbage{"), "invalid_json"),
        (Reply(headers=[("Content-Type", AS)], body=b'{"id": NaN}'), "invalid_json"),
        (Reply(headers=[("Content-Type", AS)], body=b"[" * 100_000), "invalid_json"),
        (Reply(headers=[("Content-Type", AS)], body=b'[{"id": "x"}]'), "not_an_object"),
        (Reply(headers=GZIPPED, body=GZIP_BOMB), "too_large"),
        (Reply(headers=GZIPPED, body=b"not gzip"), "bad_encoding"),
        (Reply(headers=[("Content-Type", AS)], body=b'{"type": "Person"}'), "missing_id"),
        (Reply(headers=[("Content-Type", AS)], body=b'{"id": {"a": 1}}'), "missing_id"),
        (Reply(headers=[("Content-Type", AS)], body=b'{"id": "https://elsewhere.example/a"}'), "id_mismatch"),
        (Reply(headers=[("Content-Type", AS)], body=b'{"id": "/a"}'), "id_mismatch"),
    ],
)
def test_unusable_documents_are_refused(reply: Reply, reason: str) -> None:
    async def scenario() -> None:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/a"] = reply
            await fetcher.get_activity(server.url("/a"))

    error = expect(PolicyViolation, scenario)
    assert error.reason == reason
    assert not retryable(error)


def test_an_id_on_another_port_or_scheme_is_another_origin() -> None:
    async def scenario(other: str) -> None:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/a"] = as_reply({"id": other.format(port=server.port)})
            await fetcher.get_activity(server.url("/a"))

    for other in ("http://127.0.0.1:{port}1/a", "https://127.0.0.1:{port}/a", "http://localhost:{port}/a"):
        error = expect(PolicyViolation, functools.partial(scenario, other))
        assert error.reason == "id_mismatch", other


def test_get_json_takes_any_json_object_unsigned() -> None:
    async def scenario() -> tuple[FetchedDocument, Server]:
        async with Server() as server, make_fetcher(signer=signer()) as fetcher:
            server.routes["/.well-known/webfinger"] = as_reply(
                {"subject": "acct:a@b"}, "application/jrd+json"
            )
            return await fetcher.get_json(server.url("/.well-known/webfinger?resource=acct:a@b")), server

    fetched, server = run(scenario)
    assert fetched.document == {"subject": "acct:a@b"}
    assert fetched.content_type == "application/jrd+json"
    [received] = server.requests
    assert received.target == "/.well-known/webfinger?resource=acct:a@b"
    assert received.header("Accept") == "application/jrd+json, application/json"
    assert received.header("Signature") is None


def test_cookies_are_not_carried_between_requests() -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/a"] = Reply(
                headers=[("Content-Type", AS), ("Set-Cookie", "s=1; Path=/")], body=b"{}"
            )
            await fetcher.get_json(server.url("/a"))
            await fetcher.get_json(server.url("/a"))
            return server

    assert [r.header("Cookie") for r in run(scenario).requests] == [None, None]


def test_from_settings_names_the_node_and_keeps_its_address_policy() -> None:
    async def scenario(allow: bool) -> Server:
        settings = Settings(base_url="https://node.example", allow_private_addresses=allow)
        async with Server() as server, Fetcher.from_settings(settings) as fetcher:
            server.routes["/a"] = as_reply(actor(server, "/a"))
            await fetcher.get_activity(server.url("/a"))
            return server

    [received] = run(lambda: scenario(True)).requests
    assert (
        received.header("User-Agent")
        == f"asasap/{importlib.metadata.version('asasap')} (+https://node.example/)"
    )
    assert expect(PolicyViolation, lambda: scenario(False)).reason == "private_address"


# --- size and time --------------------------------------------------------------------------------


def test_a_document_of_exactly_max_bytes_is_accepted() -> None:
    async def scenario() -> FetchedDocument:
        async with Server() as server, make_fetcher(max_bytes=1000) as fetcher:
            document = actor(server, "/a")
            text = json.dumps({**document, "pad": ""})
            document["pad"] = "x" * (1000 - len(text))
            server.routes["/a"] = as_reply(document)
            return await fetcher.get_activity(server.url("/a"))

    assert len(json.dumps(run(scenario).document)) == 1000


@pytest.mark.parametrize(
    "reply",
    [
        Reply(headers=[("Content-Type", AS)], body=b" " * 1001),
        Reply(headers=[("Content-Type", AS)], body=b" " * 5000, length=False),
        Reply(headers=[("Content-Type", AS)], chunks=[b" " * 600, b" " * 600]),
    ],
    ids=["content-length", "until-close", "chunked"],
)
def test_a_body_over_max_bytes_is_refused(reply: Reply) -> None:
    async def scenario() -> None:
        async with Server() as server, make_fetcher(max_bytes=1000) as fetcher:
            server.routes["/a"] = reply
            await fetcher.get_activity(server.url("/a"))

    assert expect(PolicyViolation, scenario).reason == "too_large"


def test_a_large_content_length_is_refused_before_reading() -> None:
    # The server announces 10 MB, sends one byte and stalls: reading would end in a timeout.
    async def scenario() -> None:
        async with Server() as server, make_fetcher(timeout=3.0) as fetcher:
            headers = [("Content-Type", AS), ("Content-Length", "10000000")]
            server.routes["/a"] = Reply(headers=headers, body=b"{", length=False, hold=5)
            await fetcher.get_activity(server.url("/a"))

    started = time.monotonic()
    assert expect(PolicyViolation, scenario).reason == "too_large"
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "reply",
    [Reply(delay=3), Reply(headers=[("Content-Type", AS)], chunks=[b" "] * 20, trickle=0.2)],
    ids=["silent", "trickling"],
)
def test_a_slow_server_is_unavailable_after_the_timeout(reply: Reply) -> None:
    async def scenario() -> None:
        async with Server() as server, make_fetcher(timeout=0.5) as fetcher:
            server.routes["/a"] = reply
            await fetcher.get_activity(server.url("/a"))

    started = time.monotonic()
    error = expect(Unavailable, scenario)
    assert error.reason == "timeout"
    assert retryable(error)
    assert 0.4 < time.monotonic() - started < 1.5


# --- redirects ------------------------------------------------------------------------------------


def redirect(to: str, status: int = 302) -> Reply:
    return Reply(status, [("Location", to)])


def test_redirects_are_followed_up_to_the_limit_each_hop_signed() -> None:
    async def scenario() -> tuple[FetchedDocument, Server]:
        async with Server() as server, make_fetcher(signer=signer(), max_redirects=3) as fetcher:
            server.routes["/r0"] = redirect(server.url("/r1"), 301)
            server.routes["/r1"] = redirect("r2", 302)
            server.routes["/r2"] = redirect("/r3#fragment", 307)
            server.routes["/r3"] = as_reply(actor(server, "/r3"))
            return await fetcher.get_activity(server.url("/r0")), server

    fetched, server = run(scenario)
    assert (fetched.requested_url, fetched.final_url) == (server.url("/r0"), server.url("/r3"))
    assert [r.target for r in server.requests] == ["/r0", "/r1", "/r2", "/r3"]
    for received in server.requests:
        verify_signature(as_signed(received), parse_signature(as_signed(received)), rsa_key().public_key())


def test_one_redirect_more_than_the_limit_is_refused() -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher(max_redirects=3) as fetcher:
            for hop in range(4):
                server.routes[f"/r{hop}"] = redirect(f"/r{hop + 1}")
            server.routes["/r4"] = as_reply(actor(server, "/r4"))
            with pytest.raises(PolicyViolation) as caught:
                await fetcher.get_activity(server.url("/r0"))
            assert caught.value.reason == "too_many_redirects"
            return server

    assert [r.target for r in run(scenario).requests] == ["/r0", "/r1", "/r2", "/r3"]


@pytest.mark.parametrize("chain", [["/a"], ["/b", "/a"], ["/b", "/c?x=1", "/a"]])
def test_redirect_loops_are_refused(chain: list[str]) -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher(max_redirects=10) as fetcher:
            for source, target in zip(["/a", *chain[:-1]], chain, strict=True):
                server.routes[source.partition("?")[0]] = redirect(target)
            with pytest.raises(PolicyViolation) as caught:
                await fetcher.get_activity(server.url("/a"))
            assert caught.value.reason == "redirect_loop"
            return server

    assert len(run(scenario).requests) == len(chain)


def test_a_redirect_to_another_origin_must_serve_its_own_ids() -> None:
    async def scenario(claimed_by_first: bool) -> FetchedDocument:
        async with Server() as first, Server() as second, make_fetcher() as fetcher:
            first.routes["/a"] = redirect(second.url("/b"))
            second.routes["/b"] = as_reply(actor(first if claimed_by_first else second, "/b"))
            return await fetcher.get_activity(first.url("/a"))

    assert run(lambda: scenario(False)).final_url.endswith("/b")
    assert expect(PolicyViolation, lambda: scenario(True)).reason == "id_mismatch"


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://metadata.example/latest/meta-data/", "private_address"),
        ("http://10.0.0.1/", "private_address"),
        ("http://[::1]:{port}/a", "private_address"),
        ("http://127.0.0.2:{port}/a", "private_address"),
        ("file:///etc/passwd", "bad_scheme"),
        ("gopher://127.0.0.1:{port}/a", "bad_scheme"),
        ("http://user:secret@127.0.0.1:{port}/a", "userinfo"),
        ("", "bad_redirect"),
    ],
)
def test_a_redirect_to_a_refused_destination_is_refused(location: str, reason: str) -> None:
    # 127.0.0.1 is exempt here, standing for an allowed public host; nothing else is.
    async def scenario() -> tuple[SpyBackend, Server]:
        fetcher = make_fetcher(
            allow_private=False,
            exempt=[ip_network("127.0.0.1/32")],
            resolver=resolver({"metadata.example": ["169.254.169.254"]}),
        )
        spy = spy_on(fetcher)
        async with Server() as server, fetcher:
            server.routes["/start"] = redirect(location.format(port=server.port))
            server.routes["/a"] = as_reply(actor(server, "/a"))
            with pytest.raises(PolicyViolation) as caught:
                await fetcher.get_activity(server.url("/start"))
            assert caught.value.reason == reason
            return spy, server

    spy, server = run(scenario)
    assert spy.attempts == [("127.0.0.1", server.port)]
    assert [r.target for r in server.requests] == ["/start"]


# --- the guard, through the fetcher ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/a",
        "http://localhost:{port}/a",
        "http://[::1]:{port}/a",
        "http://[::ffff:127.0.0.1]:{port}/a",
        "http://2130706433:{port}/a",
        "http://127.1:{port}/a",
    ],
)
def test_loopback_is_refused_unless_allowed(url: str) -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher(allow_private=False) as fetcher:
            server.routes["/a"] = as_reply(actor(server, "/a"))
            with pytest.raises(PolicyViolation) as caught:
                await fetcher.get_activity(url.format(port=server.port))
            assert caught.value.reason == "private_address"
            return server

    assert run(scenario).connections == 0


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["127.0.0.1"],
        ["100.64.0.7"],
        ["fd00:ec2::254"],
        ["0.0.0.0"],
        ["8.8.8.8", "192.168.1.10"],
    ],
)
def test_a_name_resolving_to_a_forbidden_address_is_refused_without_connecting(addresses: list[str]) -> None:
    async def scenario() -> tuple[SpyBackend, Server]:
        fetcher = make_fetcher(allow_private=False, resolver=resolver({"public.example": addresses}))
        spy = spy_on(fetcher)
        async with Server() as server, fetcher:
            server.routes["/a"] = as_reply(actor(server, "/a"))
            with pytest.raises(PolicyViolation) as caught:
                await fetcher.get_activity(server.url("/a", host="public.example"))
            assert caught.value.reason == "private_address"
            return spy, server

    spy, server = run(scenario)
    assert spy.attempts == []
    assert server.connections == 0


def test_the_connection_goes_to_the_resolved_address_with_the_name_in_the_host_header() -> None:
    async def scenario() -> tuple[FetchedDocument, SpyBackend, Server]:
        fetcher = make_fetcher(resolver=resolver({"public.example": ["127.0.0.1"]}))
        spy = spy_on(fetcher)
        async with Server() as server, fetcher:
            server.routes["/a"] = as_reply({"id": server.url("/a", host="public.example")})
            return await fetcher.get_activity(server.url("/a", host="public.example")), spy, server

    fetched, spy, server = run(scenario)
    assert fetched.final_url == server.url("/a", host="public.example")
    assert spy.attempts == [("127.0.0.1", server.port)]
    assert server.requests[0].header("Host") == f"public.example:{server.port}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1:{port}/a", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("javascript:alert(1)", "bad_scheme"),
        ("/relative/path", "bad_scheme"),
        ("http://user:secret@127.0.0.1:{port}/a", "userinfo"),
        ("http://user@127.0.0.1:{port}/a", "userinfo"),
        ("http://[::1/a", "invalid_url"),
    ],
)
def test_urls_the_node_never_requests(url: str, reason: str) -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/a"] = as_reply(actor(server, "/a"))
            target = url.format(port=server.port)
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: fetcher.get_activity(target),
                lambda: fetcher.get_json(target),
                lambda: fetcher.post(target, b"{}", {"Content-Type": AS}),
            ]
            for call in calls:
                with pytest.raises(PolicyViolation) as caught:
                    await call()
                assert caught.value.reason == reason
            return server

    assert run(scenario).connections == 0


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def scenario() -> None:
        async with make_fetcher() as fetcher:
            await fetcher.get_activity(f"http://127.0.0.1:{port}/a")

    error = expect(Unavailable, scenario)
    assert error.reason == "connect_failed"
    assert retryable(error)


def test_an_unknown_name_is_unavailable() -> None:
    async def scenario() -> None:
        async with make_fetcher(resolver=resolver({})) as fetcher:
            await fetcher.get_activity("http://nowhere.example/a")

    assert expect(Unavailable, scenario).reason == "connect_failed"


# --- statuses -------------------------------------------------------------------------------------

IN_90_S = "<an HTTP date 90 s from now>"  # filled in when the test runs, not when the module is imported


def _live(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    later = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90), usegmt=True)
    return [(name, later if value == IN_90_S else value) for name, value in headers]


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (404, [], RemoteNotFound, None),
        (410, [], Gone, None),
        (429, [("Retry-After", "120")], TryLater, 120.0),
        (429, [("Retry-After", IN_90_S)], TryLater, 90.0),
        (503, [("Retry-After", "7")], TryLater, 7.0),
        (503, [], TryLater, None),
        (408, [], TryLater, None),
        (500, [], Unavailable, None),
        (502, [], Unavailable, None),
        (400, [], RemoteRefused, None),
        (401, [], RemoteRefused, None),
        (403, [], RemoteRefused, None),
        (422, [], RemoteRefused, None),
    ],
)
def test_statuses_map_to_the_error_tree(
    status: int, headers: list[tuple[str, str]], kind: type[RemoteError], retry_after: float | None
) -> None:
    async def scenario() -> str:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/a"] = Reply(status, _live(headers), b"nope")
            await fetcher.get_activity(server.url("/a"))
            return ""

    error = expect(kind, scenario)
    assert type(error) is kind
    assert error.status == status
    assert error.url.endswith("/a")
    assert retryable(error) is (kind in (TryLater, Unavailable))
    if kind is TryLater:
        assert isinstance(error, TryLater)
        if retry_after is None:
            assert error.retry_after is None
        else:
            assert error.retry_after == pytest.approx(retry_after, abs=5)


def test_classify_status_edges() -> None:
    assert classify_status(200, {}, "u") is None
    assert classify_status(204, {}, "u") is None
    redirected = classify_status(304, {}, "u")
    assert isinstance(redirected, PolicyViolation) and redirected.reason == "redirected"
    for headers in ({"retry-after": "5"}, {"RETRY-AFTER": "5"}, httpx.Headers({"Retry-After": "5"})):
        limited = classify_status(429, headers, "u")
        assert isinstance(limited, TryLater) and limited.retry_after == 5.0
    odd = classify_status(99, {}, "u")
    assert isinstance(odd, Unavailable) and odd.status == 99
    assert isinstance(classify_status(599, {}, "u"), Unavailable)
    assert not retryable(ValueError("not remote"))


def test_parse_retry_after() -> None:
    now = dt.datetime(2015, 10, 21, 7, 27, tzinfo=dt.UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(" 3 ", now=now) == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0
    for unusable in (None, "", "-5", "1.5", "soon", "\u00b2", "Wed, 99 Oct 2015 07:28:00 GMT"):
        assert parse_retry_after(unusable, now=now) is None, unusable


# --- POST -----------------------------------------------------------------------------------------

ACTIVITY = json.dumps({"type": "Create", "actor": "https://node.example/actor"}).encode()


def test_post_returns_the_2xx_answer_and_the_signature_verifies() -> None:
    async def scenario() -> tuple[httpx.Response, Server]:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/inbox"] = Reply(202, [("Content-Type", "text/plain")], b"accepted")
            response = await fetcher.post(server.url("/inbox"), ACTIVITY, {"Content-Type": AS}, signer())
            return response, server

    response, server = run(scenario)
    assert (response.status_code, response.content, response.headers["content-type"]) == (
        202,
        b"accepted",
        "text/plain",
    )
    [received] = server.requests
    assert (received.method, received.body, received.header("Content-Type")) == ("POST", ACTIVITY, AS)
    request = as_signed(received)
    parsed = parse_signature(request)
    assert {"digest", "content-type"} <= set(parsed.covered)
    verify_signature(request, parsed, rsa_key().public_key())
    tampered = SignedRequest("POST", received.target, request.headers, ACTIVITY.replace(b"Create", b"Delete"))
    with pytest.raises(InvalidSignature):
        verify_signature(tampered, parse_signature(tampered), rsa_key().public_key())


def test_post_keeps_only_the_start_of_a_long_answer() -> None:
    async def scenario() -> httpx.Response:
        async with Server() as server, make_fetcher() as fetcher:
            server.routes["/inbox"] = Reply(200, [], b"x" * 200_000)
            return await fetcher.post(server.url("/inbox"), ACTIVITY, {"Content-Type": AS})

    assert run(scenario).content == b"x" * 65_536


@pytest.mark.parametrize(
    ("reply", "kind", "reason", "retry_after"),
    [
        (Reply(410), Gone, "gone", None),
        (Reply(404), RemoteNotFound, "not_found", None),
        (Reply(429, [("Retry-After", "30")]), TryLater, "rate_limited", 30.0),
        (Reply(503, [("Retry-After", IN_90_S)]), TryLater, "service_unavailable", 90.0),
        (Reply(500), Unavailable, "server_error", None),
        (Reply(401), RemoteRefused, "client_error", None),
        (redirect("/elsewhere", 308), PolicyViolation, "redirected", None),
        (redirect("/elsewhere", 302), PolicyViolation, "redirected", None),
        (Reply(202, delay=3), Unavailable, "timeout", None),
    ],
)
def test_post_failures(reply: Reply, kind: type[RemoteError], reason: str, retry_after: float | None) -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher(timeout=0.5) as fetcher:
            server.routes["/inbox"] = dataclasses.replace(reply, headers=_live(reply.headers))
            server.routes["/elsewhere"] = Reply(202)
            with pytest.raises(kind) as caught:
                await fetcher.post(server.url("/inbox"), ACTIVITY, {"Content-Type": AS}, signer())
            error = caught.value
            assert (type(error), error.reason) == (kind, reason)
            expected = None if retry_after is None else pytest.approx(retry_after, abs=5)
            assert getattr(error, "retry_after", None) == expected
            return server

    assert [r.target for r in run(scenario).requests] == ["/inbox"]


def test_post_to_loopback_is_refused_unless_allowed() -> None:
    async def scenario() -> Server:
        async with Server() as server, make_fetcher(allow_private=False) as fetcher:
            with pytest.raises(PolicyViolation) as caught:
                await fetcher.post(server.url("/inbox"), ACTIVITY, {"Content-Type": AS})
            assert caught.value.reason == "private_address"
            return server

    assert run(scenario).connections == 0


# --- TLS ------------------------------------------------------------------------------------------


def tls_server(tmp_path: Path, name: str, server_names: list[str | None]) -> tuple[Server, str]:
    cert_pem, key_pem = certificate(name)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    def record(_: object, server_name: str | None, __: object) -> None:
        server_names.append(server_name)

    context.sni_callback = record
    return Server(context), cert_pem.decode()


def test_tls_checks_the_name_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    names: list[str | None] = []
    server, cert = tls_server(tmp_path, "public.example", names)

    async def scenario(trusted: str) -> tuple[FetchedDocument, SpyBackend]:
        fetcher = make_fetcher(
            resolver=resolver({"public.example": ["127.0.0.1"]}),
            verify=ssl.create_default_context(cadata=trusted),
        )
        spy = spy_on(fetcher)
        async with server, fetcher:
            server.routes["/a"] = as_reply({"id": server.url("/a", host="public.example")})
            return await fetcher.get_activity(server.url("/a", host="public.example")), spy

    fetched, spy = run(lambda: scenario(cert))
    assert fetched.final_url.startswith("https://public.example:")
    assert spy.attempts == [("127.0.0.1", server.port)]
    assert names == ["public.example"]
    assert server.requests[0].header("Host") == f"public.example:{server.port}"
    # the twin: a certificate the fetcher does not trust
    other_cert, _ = certificate("public.example")
    error = expect(Unavailable, lambda: scenario(other_cert.decode()))
    assert error.reason == "tls_error"
    assert len(server.requests) == 1


def test_tls_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    server, cert = tls_server(tmp_path, "other.example", [])

    async def scenario() -> None:
        fetcher = make_fetcher(
            resolver=resolver({"public.example": ["127.0.0.1"]}),
            verify=ssl.create_default_context(cadata=cert),
        )
        async with server, fetcher:
            await fetcher.get_activity(server.url("/a", host="public.example"))

    assert expect(Unavailable, scenario).reason == "tls_error"
    assert server.requests == []
