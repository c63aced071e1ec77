"""The delivery client (``transport.poster`` over ``transport.http1`` connections) against real HTTP/1.1
servers on loopback: signed POSTs, keep-alive, framing, statuses, limits, the SSRF guard and TLS, on
asyncio's loop and on uvloop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node.activitypub.signatures import (
    DigestMismatch,
    Headers,
    SignedRequest,
    parse_signature,
    sign_cavage,
    verify_signature,
)
from node.activitypub.signatures.digest import digest_header
from node.activitypub.transport.fetch import (
    Gone,
    PolicyViolation,
    RemoteError,
    RemoteNotFound,
    RemoteRefused,
    TryLater,
    Unavailable,
)
from node.activitypub.transport.guard import GuardedBackend, IPAddress
from node.activitypub.transport.poster import Answer, InboxPoster, rsa_signature, user_agent
from node.settings import Settings
from tests.support.tls import certificate

T = TypeVar("T")
KEY_ID = "https://node.example/users/alice#main-key"
ACTIVITY = b'{"id": "https://node.example/activities/1", "type": "Create", "content": "d\xc3\xa9j\xc3\xa0"}'
UA = "asasap/test (+https://node.example/)"


# --- a small HTTP/1.1 server that keeps connections open and answers as told ----------------------


@dataclass
class Received:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int  # which connection (1, 2, ...) carried it

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def signed(self) -> SignedRequest:
        return SignedRequest(self.method, self.target, Headers(self.headers), self.body)


@dataclass
class Step:
    """How to answer one request."""

    status: int = 202
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None  # sent with Transfer-Encoding: chunked
    length: bool = True  # False: no Content-Length, the body ends with the connection
    raw: bytes | None = None  # these bytes instead of a well-formed answer
    close: bool = False  # close the connection after answering
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # before answering


Plan = Callable[[Received, int], Step]
"""``plan(request, nth)`` says how to answer the ``nth`` (1, 2...) request of a connection."""


class Server:
    def __init__(self, plan: Plan | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.plan: Plan = plan or (lambda request, nth: Step())
        self.requests: list[Received] = []
        self.connections = 0
        self.closed = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.port = 0
        self._ssl = ssl_context
        self._handlers: list[asyncio.Future[None]] = []
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()

    def url(self, path: str = "/inbox", host: str = "127.0.0.1") -> str:
        return f"{'https' if self._ssl else 'http'}://{host}:{self.port}{path}"

    async def __aenter__(self) -> Server:
        self._stopping = asyncio.Event()
        self._handlers = []
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._stopping.set()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not condition():
                await asyncio.sleep(0.01)

    def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.append(asyncio.ensure_future(self._serve(reader, writer)))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number, nth = self.connections, 0
        try:
            while (received := await self._read(reader, number)) is not None:
                nth += 1
                self.requests.append(received)
                step = self.plan(received, nth)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    if step.delay:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopping.wait(), step.delay)
                    if step.drop or self._stopping.is_set():
                        break
                    writer.write(self._answer(step))
                    await writer.drain()
                finally:
                    self.in_flight -= 1
                if step.close or not step.length:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            self.closed += 1

    @staticmethod
    async def _read(reader: asyncio.StreamReader, number: int) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
        body = await reader.readexactly(length) if length else b""
        return Received(method, target, headers, body, number)

    @staticmethod
    def _answer(step: Step) -> bytes:
        if step.raw is not None:
            return step.raw
        head = [f"HTTP/1.1 {step.status} Whatever"] + [f"{k}: {v}" for k, v in step.headers]
        if step.close:
            head.append("Connection: close")
        if step.chunks is not None:
            head.append("Transfer-Encoding: chunked")
            body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in step.chunks) + b"0\r\n\r\n"
        else:
            if step.length:
                head.append(f"Content-Length: {len(step.body)}")
            body = step.body
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


# --- helpers --------------------------------------------------------------------------------------


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def loop_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def run(scenario: Callable[[], Coroutine[Any, Any, T]], loop: str = "asyncio") -> T:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(scenario())


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def poster(**options: Any) -> InboxPoster:
    settings: dict[str, Any] = {"user_agent": UA, "allow_private": True, "timeout": 2.0}
    return InboxPoster(**{**settings, **options})


async def post(client: InboxPoster, url: str, body: bytes = ACTIVITY) -> Answer:
    return await client.post_signed(url, body, key_id=KEY_ID, private_key=rsa_key())


def resolver(mapping: dict[str, list[str]]) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in mapping:
            raise OSError(f"unknown name {host}")
        return mapping[host]

    return resolve


def expect(error: type[RemoteError], scenario: Callable[[], Coroutine[Any, Any, object]]) -> RemoteError:
    with pytest.raises(error) as caught:
        run(scenario)
    return caught.value


# --- what is sent ---------------------------------------------------------------------------------


def test_the_post_is_signed_as_mastodon_signs_and_verifies(loop_name: str) -> None:
    async def scenario() -> tuple[Answer, Server]:
        async with Server() as server, poster() as client:
            return await post(client, server.url("/users/bob/inbox?x=1")), server

    answer, server = run(scenario, loop_name)
    assert answer.status == 202
    [received] = server.requests
    assert (received.method, received.target, received.body) == ("POST", "/users/bob/inbox?x=1", ACTIVITY)
    assert received.header("Host") == f"127.0.0.1:{server.port}"
    assert received.header("Content-Type") == "application/activity+json"
    assert received.header("Content-Length") == str(len(ACTIVITY))
    assert received.header("User-Agent") == UA
    assert received.header("Accept-Encoding") == "identity"
    request = received.signed()
    parsed = parse_signature(request)
    assert parsed.key_id == KEY_ID and parsed.algorithm == "rsa-sha256"
    assert parsed.covered == ("(request-target)", "host", "date", "digest", "content-type")
    verify_signature(request, parsed, rsa_key().public_key())
    # the twin: the same headers over another body
    tampered = SignedRequest("POST", received.target, request.headers, ACTIVITY.replace(b"Create", b"Delete"))
    with pytest.raises(DigestMismatch):
        verify_signature(tampered, parse_signature(tampered), rsa_key().public_key())


def test_the_signature_is_the_one_sign_cavage_makes() -> None:
    when = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    date = format_datetime(when, usegmt=True)
    digest = digest_header(ACTIVITY)
    url = "https://remote.example:8443/users/bob/inbox?x=1"
    expected = sign_cavage(
        "POST",
        url,
        [("Content-Type", "application/activity+json")],
        ACTIVITY,
        key_id=KEY_ID,
        private_key=rsa_key(),
        now=when,
    )
    mine = rsa_signature(
        "/users/bob/inbox?x=1",
        "remote.example:8443",
        date,
        digest,
        "application/activity+json",
        KEY_ID,
        rsa_key(),
    )
    assert expected == {"Host": "remote.example:8443", "Date": date, "Digest": digest, "Signature": mine}
    # the twin: another target gives another signature
    other = rsa_signature(
        "/inbox", "remote.example:8443", date, digest, "application/activity+json", KEY_ID, rsa_key()
    )
    assert other != mine
    with pytest.raises(ValueError):
        rsa_signature("/inbox", "h", date, digest, "a/b", 'k"ey', rsa_key())


def test_a_key_other_than_rsa_signs_with_hs2019() -> None:
    key = ed25519.Ed25519PrivateKey.generate()

    async def scenario() -> Server:
        async with Server() as server, poster() as client:
            await client.post_signed(server.url(), ACTIVITY, key_id=KEY_ID, private_key=key)
            return server

    [received] = run(scenario).requests
    parsed = parse_signature(received.signed())
    assert parsed.algorithm == "hs2019" and "digest" in parsed.covered
    verify_signature(received.signed(), parsed, key.public_key())


def test_an_unsigned_post_sends_the_headers_given() -> None:
    async def scenario() -> Server:
        async with Server() as server, poster() as client:
            await client.post(server.url(), b"{}", [("Content-Type", "application/json"), ("X-Test", "1")])
            return server

    [received] = run(scenario).requests
    assert (received.header("Content-Type"), received.header("X-Test")) == ("application/json", "1")
    assert received.header("Signature") is None


@pytest.mark.parametrize(
    "header",
    [
        ("X-Test", "a\r\nInjected: yes"),
        ("X-Test", "a\nb"),
        ("Bad Name", "x"),
        ("Host", "x"),
        ("content-length", "1"),
    ],
)
def test_headers_that_could_change_the_request_are_refused(header: tuple[str, str]) -> None:
    async def scenario() -> Server:
        async with Server() as server, poster() as client:
            with pytest.raises(ValueError):
                await client.post(server.url(), b"{}", [header])
            return server

    assert run(scenario).connections == 0


def test_from_settings_names_the_node_and_keeps_its_policy(settings: Settings) -> None:
    client = InboxPoster.from_settings(settings.replace(fetch_timeout_seconds=3))
    assert client.user_agent == user_agent(settings)
    assert client.user_agent.startswith("asasap/") and settings.base_url in client.user_agent
    assert (client.timeout, client.guard.allow_private) == (3, settings.allow_private_addresses)


# --- keep-alive and framing -----------------------------------------------------------------------


def test_one_connection_serves_many_posts(loop_name: str) -> None:
    async def scenario() -> tuple[list[Answer], Server]:
        async with Server(lambda r, n: Step(202, [("Content-Type", "text/plain")], b"accepted")) as server:
            async with poster() as client:
                return [await post(client, server.url()) for _ in range(3)], server

    answers, server = run(scenario, loop_name)
    assert [(a.status, a.body, a.header("content-type")) for a in answers] == [
        (202, b"accepted", "text/plain")
    ] * 3
    assert server.connections == 1 and len(server.requests) == 3


def test_a_chunked_answer_is_read_through_and_the_connection_kept(loop_name: str) -> None:
    async def scenario() -> tuple[list[Answer], Server]:
        async with Server(lambda r, n: Step(200, chunks=[b"acc", b"ep", b"ted"])) as server:
            async with poster() as client:
                return [await post(client, server.url()) for _ in range(2)], server

    answers, server = run(scenario, loop_name)
    assert [a.body for a in answers] == [b"accepted", b"accepted"]
    assert server.connections == 1


def test_an_answer_without_length_ends_with_its_connection() -> None:
    async def scenario() -> tuple[list[Answer], Server]:
        async with Server(lambda r, n: Step(202, body=b"until the end", length=False)) as server:
            async with poster() as client:
                return [await post(client, server.url()) for _ in range(2)], server

    answers, server = run(scenario)
    assert [a.body for a in answers] == [b"until the end"] * 2
    assert server.connections == 2


def test_connection_close_is_honoured() -> None:
    async def scenario() -> Server:
        async with Server(lambda r, n: Step(202, close=True)) as server, poster() as client:
            for _ in range(3):
                await post(client, server.url())
            return server

    server = run(scenario)
    assert server.connections == 3 and len(server.requests) == 3


def test_idle_connections_expire() -> None:
    async def scenario() -> Server:
        async with Server() as server, poster(idle_seconds=0) as client:
            await post(client, server.url())
            await post(client, server.url())
            return server

    assert run(scenario).connections == 2


def test_a_connection_closed_while_idle_is_replaced(loop_name: str) -> None:
    async def scenario() -> Server:
        async with Server() as server, poster() as client:
            await post(client, server.url())
            await server.wait_for(lambda: server.connections == 1)
            server.plan = lambda r, n: Step(202, close=True)  # the server now closes after answering
            await post(client, server.url())
            await server.wait_for(lambda: server.closed == 1)  # the kept connection is gone
            server.plan = lambda r, n: Step(202)
            await post(client, server.url())
            return server

    server = run(scenario, loop_name)
    assert server.connections == 2 and len(server.requests) == 3


def test_a_kept_connection_that_drops_the_request_is_retried_once_on_a_new_one(loop_name: str) -> None:
    # The server answers the first request of a connection, and drops any later one unanswered (as a
    # server closing an idle connection at the moment the request arrives).
    async def scenario() -> Server:
        async with Server(lambda r, n: Step(202, drop=n > 1)) as server, poster() as client:
            await post(client, server.url())
            answer = await post(client, server.url())
            assert answer.status == 202
            return server

    server = run(scenario, loop_name)
    assert server.connections == 2
    assert [r.connection for r in server.requests] == [1, 1, 2]


def test_a_new_connection_that_drops_the_request_is_not_retried() -> None:
    async def scenario() -> None:
        async with Server(lambda r, n: Step(drop=True)) as server, poster() as client:
            try:
                await post(client, server.url())
            finally:
                assert server.connections == 1 and len(server.requests) == 1

    assert expect(Unavailable, scenario).reason == "transport_error"


def test_a_kept_connection_that_breaks_mid_answer_is_not_retried() -> None:
    partial = b"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\nabc"

    async def scenario() -> None:
        plan = lambda r, n: Step(raw=partial, close=True) if n > 1 else Step(202)  # noqa: E731
        async with Server(plan) as server, poster() as client:
            await post(client, server.url())
            try:
                await post(client, server.url())
            finally:
                assert len(server.requests) == 2 and server.connections == 1

    assert expect(Unavailable, scenario).reason == "transport_error"


def test_an_interim_answer_is_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"

    async def scenario() -> tuple[Answer, Answer, Server]:
        async with Server(lambda r, n: Step(raw=interim)) as server, poster() as client:
            return await post(client, server.url()), await post(client, server.url()), server

    first, second, server = run(scenario)
    assert (first.status, first.body, second.status) == (201, b"ok", 201)
    assert server.connections == 1


def test_at_most_per_origin_connections_at_once() -> None:
    async def scenario() -> tuple[list[Answer], Server]:
        async with Server(lambda r, n: Step(202, delay=0.05)) as server, poster(per_origin=2) as client:
            answers = await asyncio.gather(*(post(client, server.url()) for _ in range(6)))
            return answers, server

    answers, server = run(scenario)
    assert [a.status for a in answers] == [202] * 6
    assert server.most_in_flight == 2 and server.connections == 2


def test_closing_the_client_closes_its_connections(loop_name: str) -> None:
    async def scenario() -> Server:
        async with Server() as server:
            client = poster()
            await asyncio.gather(*(post(client, server.url()) for _ in range(3)))
            assert server.connections >= 1 and server.closed == 0
            await client.aclose()
            await server.wait_for(lambda: server.closed == server.connections)
            with pytest.raises(RuntimeError):
                await post(client, server.url())
            return server

    run(scenario, loop_name)


# --- limits and broken answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [
        Step(200, body=b"x" * 1_000_000),
        Step(200, chunks=[b"x" * 50_000] * 20),
        Step(200, body=b"x" * 1_000_000, length=False),
    ],
)
def test_a_long_answer_is_cut_and_its_connection_closed(step: Step) -> None:
    async def scenario() -> tuple[Answer, Answer, Server]:
        async with Server(lambda r, n: step) as server, poster() as client:
            return await post(client, server.url()), await post(client, server.url()), server

    first, second, server = run(scenario)
    assert first.status == 200 and first.body == b"x" * 65_536 and second.body == first.body
    assert server.connections == 2


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 20x Nope\r\n\r\n",
        b"HTTP/1.1 202 OK\r\nContent-Length: nope\r\n\r\n",
        b"HTTP/1.1 202 OK\r\n" + b"X-Filler: " + b"y" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 202 OK\r\n" + b"X-Filler: yyyyyyyy\r\n" * 4_000 + b"\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ],
)
def test_a_broken_answer_is_unavailable(raw: bytes) -> None:
    async def scenario() -> None:
        async with Server(lambda r, n: Step(raw=raw, close=True)) as server, poster() as client:
            await post(client, server.url())

    assert expect(Unavailable, scenario).reason == "transport_error"


def test_a_slow_server_is_unavailable_after_the_timeout(loop_name: str) -> None:
    async def scenario() -> None:
        async with Server(lambda r, n: Step(202, delay=5)) as server, poster(timeout=0.3) as client:
            await post(client, server.url())

    assert run(lambda: _expect_reason(scenario), loop_name) == "timeout"


async def _expect_reason(scenario: Callable[[], Awaitable[object]]) -> str:
    try:
        await scenario()
    except RemoteError as exc:
        return exc.reason
    raise AssertionError("no error")


def test_a_closed_port_is_unavailable() -> None:
    async def scenario() -> None:
        async with Server() as server:
            url = server.url()
        async with poster() as client:
            await post(client, url)

    assert expect(Unavailable, scenario).reason == "connect_failed"


def test_an_unknown_name_is_unavailable() -> None:
    async def scenario() -> None:
        async with poster(resolver=resolver({})) as client:
            await post(client, "https://nowhere.example/inbox")

    assert expect(Unavailable, scenario).reason == "connect_failed"


# --- statuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "kind", "reason", "retry_after"),
    [
        (Step(410), Gone, "gone", None),
        (Step(404), RemoteNotFound, "not_found", None),
        (Step(429, [("Retry-After", "120")]), TryLater, "rate_limited", 120.0),
        (Step(503, [("Retry-After", "30")]), TryLater, "service_unavailable", 30.0),
        (Step(503), TryLater, "service_unavailable", None),
        (Step(408), TryLater, "request_timeout", None),
        (Step(500), Unavailable, "server_error", None),
        (Step(502, body=b"bad gateway"), Unavailable, "server_error", None),
        (Step(400), RemoteRefused, "client_error", None),
        (Step(401), RemoteRefused, "client_error", None),
        (Step(302, [("Location", "/elsewhere")]), PolicyViolation, "redirected", None),
        (Step(308, [("Location", "/elsewhere")]), PolicyViolation, "redirected", None),
    ],
)
def test_statuses_map_to_the_error_tree(
    step: Step, kind: type[RemoteError], reason: str, retry_after: float | None
) -> None:
    async def scenario() -> Server:
        async with Server(lambda r, n: step) as server, poster() as client:
            with pytest.raises(RemoteError) as caught:
                await post(client, server.url())
            error = caught.value
            assert (type(error), error.reason, error.status) == (kind, reason, step.status)
            assert getattr(error, "retry_after", None) == retry_after
            # an error answer leaves the connection usable
            with pytest.raises(kind):
                await post(client, server.url())
            return server

    server = run(scenario)
    assert [r.target for r in server.requests] == ["/inbox", "/inbox"]
    assert server.connections == 1


# --- the SSRF guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/inbox", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("http://user:secret@example.com/inbox", "userinfo"),
        ("http://user@example.com/inbox", "userinfo"),
        ("http://[::1/inbox", "invalid_url"),
        ("/relative/inbox", "bad_scheme"),
        ("http:///inbox", "invalid_url"),
    ],
)
def test_urls_the_node_never_posts_to(url: str, reason: str) -> None:
    async def scenario() -> None:
        async with poster(resolver=resolver({})) as client:
            await post(client, url)

    assert expect(PolicyViolation, scenario).reason == reason


def test_loopback_is_refused_unless_allowed(loop_name: str) -> None:
    async def scenario() -> tuple[str, Server]:
        async with Server() as server, poster(allow_private=False) as client:
            reason = await _expect_reason(lambda: post(client, server.url()))
            return reason, server

    reason, server = run(scenario, loop_name)
    assert reason == "private_address" and server.connections == 0


@pytest.mark.parametrize(
    "addresses", [["10.0.0.1"], ["127.0.0.1"], ["::1"], ["93.184.216.34", "127.0.0.1"], ["169.254.169.254"]]
)
def test_a_name_resolving_to_a_forbidden_address_is_refused_without_connecting(addresses: list[str]) -> None:
    async def scenario() -> tuple[str, Server]:
        async with Server() as server:
            client = poster(allow_private=False, resolver=resolver({"public.example": addresses}))
            async with client:
                reason = await _expect_reason(lambda: post(client, server.url(host="public.example")))
            return reason, server

    reason, server = run(scenario)
    assert reason == "private_address" and server.connections == 0


def test_an_exempt_network_is_reached_with_the_name_in_the_host_header() -> None:
    async def scenario() -> Server:
        async with Server() as server:
            client = poster(
                allow_private=False,
                resolver=resolver({"public.example": ["127.0.0.1"]}),
                exempt=[ip_network("127.0.0.1/32")],
            )
            async with client:
                await post(client, server.url(host="public.example"))
            return server

    server = run(scenario)
    [received] = server.requests
    assert received.header("Host") == f"public.example:{server.port}"


class _PeerRefusingGuard(GuardedBackend):
    """Allows the resolved address, then refuses the same address as the connected peer."""

    def __init__(self) -> None:
        super().__init__(resolver=resolver({"public.example": ["127.0.0.1"]}))
        self.asked = 0

    def allowed(self, address: IPAddress) -> bool:
        self.asked += 1
        return self.asked == 1


def test_the_connected_peer_is_checked_before_any_byte_is_sent() -> None:
    async def scenario() -> tuple[str, Server]:
        async with Server() as server:
            client = poster(allow_private=False)
            client.guard = _PeerRefusingGuard()
            async with client:
                reason = await _expect_reason(lambda: post(client, server.url(host="public.example")))
                assert client.guard.asked == 2
            return reason, server

    reason, server = run(scenario)
    assert reason == "private_address"
    assert server.connections <= 1 and server.requests == []


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
    return Server(ssl_context=context), cert_pem.decode()


def test_tls_with_sni_and_certificate_checks(tmp_path: Path, loop_name: str) -> None:
    names: list[str | None] = []
    server, cert = tls_server(tmp_path, "public.example", names)

    async def scenario(trusted: str) -> tuple[list[Answer] | str, Server]:
        client = poster(
            resolver=resolver({"public.example": ["127.0.0.1"]}),
            ssl_context=ssl.create_default_context(cadata=trusted),
        )
        async with server, client:
            url = server.url(host="public.example")
            try:
                return [await post(client, url), await post(client, url)], server
            except RemoteError as exc:
                return exc.reason, server

    answers, _ = run(lambda: scenario(cert), loop_name)
    assert isinstance(answers, list) and [a.status for a in answers] == [202, 202]
    assert names == ["public.example"] and server.connections == 1
    assert server.requests[0].header("Host") == f"public.example:{server.port}"
    verify_signature(
        server.requests[0].signed(), parse_signature(server.requests[0].signed()), rsa_key().public_key()
    )
    # the twin: a certificate the client does not trust
    other, _ = certificate("public.example")
    reason, _ = run(lambda: scenario(other.decode()), loop_name)
    assert reason == "tls_error" and len(server.requests) == 2


def test_tls_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    server, cert = tls_server(tmp_path, "other.example", [])

    async def scenario() -> None:
        client = poster(
            resolver=resolver({"public.example": ["127.0.0.1"]}),
            ssl_context=ssl.create_default_context(cadata=cert),
        )
        async with server, client:
            await post(client, server.url(host="public.example"))

    assert expect(Unavailable, scenario).reason == "tls_error"
    assert server.requests == []
