"""The SSRF guard on its own: the address policy, resolution, the peer check, the transport."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import httpcore
import httpx
import pytest

from node.activitypub.transport.guard import GuardedBackend, GuardedTransport, GuardError, forbidden_address

T = TypeVar("T")

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::127.0.0.1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::1",
    "2002:a00:1::1",
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "169.253.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4007:80f::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address: str) -> None:
    assert forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses(address: str) -> None:
    assert not forbidden_address(ipaddress.ip_address(address))


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


class Listener:
    """A TCP listener on 127.0.0.1 that counts connections and reads each until the peer closes."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: list[Awaitable[None]] = []

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.gather(*self._handlers)
        await self._server.wait_closed()

    def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Awaitable[None]:
        handler = asyncio.ensure_future(self._serve(reader, writer))
        self._handlers.append(handler)
        return handler

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            self.received += await asyncio.wait_for(reader.read(), 2)
        finally:
            writer.close()
            await writer.wait_closed()


Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


def static_resolver(*addresses: str, calls: list[str] | None = None) -> Resolve:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        return list(addresses)

    return resolve


class Rebinding(httpcore.AsyncNetworkBackend):
    """Connects to ``real_port`` on 127.0.0.1 whatever address it is given, as rebinding would."""

    def __init__(self, real_port: int) -> None:
        self.real_port = real_port
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self.inner.connect_tcp("127.0.0.1", self.real_port, timeout=timeout)


def test_the_peer_address_is_checked_after_connecting() -> None:
    async def scenario(exempt: bool) -> tuple[Listener, bool]:
        async with Listener() as listener:
            backend = GuardedBackend(
                resolver=static_resolver("8.8.8.8"),
                inner=Rebinding(listener.port),
                exempt=[ipaddress.ip_network("127.0.0.1/32")] if exempt else [],
            )
            try:
                stream = await backend.connect_tcp("public.example", 80, timeout=1)
            except GuardError as exc:
                assert (exc.reason, exc.address) == ("private_address", "127.0.0.1")
                return listener, False
            await stream.write(b"hello")
            await stream.aclose()
            return listener, True

    listener, connected = run(lambda: scenario(False))
    assert (connected, listener.connections, listener.received) == (False, 1, b"")
    # the twin: the same connection to an exempt address goes through
    listener, connected = run(lambda: scenario(True))
    assert (connected, listener.connections, listener.received) == (True, 1, b"hello")


class Scripted(httpcore.AsyncNetworkBackend):
    """Fails to connect to the addresses in ``refuse``; other connections are fakes that report the
    address asked for as their peer (or None when ``peer`` is False)."""

    def __init__(self, refuse: Sequence[str] = (), peer: bool = True) -> None:
        self.refuse = refuse
        self.peer = peer
        self.attempts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append(host)
        if host in self.refuse:
            raise httpcore.ConnectError(f"refused by {host}")
        return FakeStream((host, port) if self.peer else None)


class FakeStream(httpcore.AsyncMockStream):
    def __init__(self, peer: tuple[str, int] | None) -> None:
        super().__init__([])
        self.peer = peer

    def get_extra_info(self, info: str) -> Any:
        return self.peer if info == "server_addr" else None


def test_addresses_are_tried_in_order_until_one_connects() -> None:
    inner = Scripted(refuse=["8.8.8.8"])
    backend = GuardedBackend(resolver=static_resolver("8.8.8.8", "8.8.4.4", "1.1.1.1"), inner=inner)
    stream = run(lambda: backend.connect_tcp("public.example", 443))
    assert stream.get_extra_info("server_addr") == ("8.8.4.4", 443)
    assert inner.attempts == ["8.8.8.8", "8.8.4.4"]


def test_when_no_address_connects_the_last_error_is_raised() -> None:
    inner = Scripted(refuse=["8.8.8.8", "8.8.4.4"])
    backend = GuardedBackend(resolver=static_resolver("8.8.8.8", "8.8.4.4"), inner=inner)
    with pytest.raises(httpcore.ConnectError, match="8.8.4.4"):
        run(lambda: backend.connect_tcp("public.example", 443))


def test_an_unknown_peer_address_is_refused() -> None:
    backend = GuardedBackend(resolver=static_resolver("8.8.8.8"), inner=Scripted(peer=False))
    with pytest.raises(GuardError) as caught:
        run(lambda: backend.connect_tcp("public.example", 443))
    assert caught.value.reason == "private_address"


def test_one_forbidden_answer_refuses_the_name_before_any_connection() -> None:
    inner = Scripted()
    backend = GuardedBackend(resolver=static_resolver("8.8.8.8", "10.0.0.1"), inner=inner)
    with pytest.raises(GuardError) as caught:
        run(lambda: backend.connect_tcp("public.example", 443))
    assert (caught.value.host, caught.value.address) == ("public.example", "10.0.0.1")
    assert inner.attempts == []


def test_an_ip_literal_is_checked_without_resolving() -> None:
    calls: list[str] = []
    inner = Scripted()
    backend = GuardedBackend(resolver=static_resolver("8.8.8.8", calls=calls), inner=inner)
    run(lambda: backend.connect_tcp("1.1.1.1", 443))
    with pytest.raises(GuardError):
        run(lambda: backend.connect_tcp("::ffff:127.0.0.1", 443))
    assert (calls, inner.attempts) == ([], ["1.1.1.1"])


def test_allow_private_lets_every_address_through() -> None:
    inner = Scripted()
    backend = GuardedBackend(allow_private=True, resolver=static_resolver("10.0.0.1"), inner=inner)
    run(lambda: backend.connect_tcp("intranet.example", 80))
    assert inner.attempts == ["10.0.0.1"]


def test_resolution_failures_are_connection_errors() -> None:
    async def unknown(host: str, port: int) -> Sequence[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def slow(host: str, port: int) -> Sequence[str]:
        await asyncio.sleep(5)
        return ["8.8.8.8"]

    with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
        run(lambda: GuardedBackend(resolver=unknown).connect_tcp("nowhere.example", 80))
    with pytest.raises(httpcore.ConnectError, match="no address"):
        run(lambda: GuardedBackend(resolver=static_resolver()).connect_tcp("nowhere.example", 80))
    with pytest.raises(httpcore.ConnectTimeout):
        run(lambda: GuardedBackend(resolver=slow).connect_tcp("slow.example", 80, timeout=0.1))


def test_unix_sockets_are_refused() -> None:
    with pytest.raises(GuardError) as caught:
        run(lambda: GuardedBackend(allow_private=True).connect_unix_socket("/run/docker.sock"))
    assert caught.value.reason == "unix_socket"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/", "private_address"),
        ("http://localhost:{port}/", "private_address"),
        ("http://user:secret@example.com:{port}/", "userinfo"),
        ("ftp://example.com:{port}/", "bad_scheme"),
    ],
)
def test_the_transport_guards_any_httpx_client(url: str, reason: str) -> None:
    # Code that builds its own client on the transport gets the same refusals as the fetcher.
    async def scenario() -> Listener:
        async with Listener() as listener, httpx.AsyncClient(transport=GuardedTransport()) as client:
            with pytest.raises(GuardError) as caught:
                await client.get(url.format(port=listener.port))
            assert caught.value.reason == reason
            return listener

    assert run(scenario).connections == 0


def test_the_transport_connects_when_private_addresses_are_allowed() -> None:
    async def scenario() -> Listener:
        transport = GuardedTransport(allow_private=True)
        async with Listener() as listener, httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ReadTimeout):  # the listener never answers
                await client.get(f"http://localhost:{listener.port}/", timeout=0.3)
            return listener

    listener = run(scenario)
    assert listener.connections == 1
    assert listener.received.startswith(b"GET / HTTP/1.1\r\nHost: localhost:")
