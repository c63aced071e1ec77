"""The SSRF guard under every outgoing request: which addresses a node may connect to, and the
httpx transport that enforces it at connection time.

The guard works where the socket is opened, not on the URL text, so no spelling of a host name
(a name that resolves to ``10.0.0.1``, a decimal IP, an IPv4-mapped IPv6 literal) gets around it:

1. the host is resolved here, through an injectable resolver;
2. every resolved address is checked, and one forbidden address refuses the whole host;
3. the connection is opened to a checked address (TLS SNI, certificate checks and the ``Host``
   header still use the name), so a DNS answer that changes between check and connect
   (rebinding) is never used;
4. the peer address of the open socket is checked again before any byte is sent.

Refusals raise :class:`GuardError` with a stable ``reason`` (``private_address``,
``bad_scheme``, ``userinfo``, ``unix_socket``); :mod:`node.activitypub.transport.fetch` turns them into
its ``PolicyViolation``. ``allow_private=True`` (setting ``ASASAP_ALLOW_PRIVATE_ADDRESSES``)
switches the address checks off, for tests and loopback demos.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import anyio
import httpcore
import httpx

__all__ = [
    "GuardError",
    "GuardedBackend",
    "GuardedTransport",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "check_url",
    "forbidden_address",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``await resolver(host, port)`` gives the IP addresses (as text) to connect to, best first."""

# Ranges the ``is_*`` properties of ``ipaddress`` do not all cover, listed so that the intent
# survives changes to those properties across Python versions.
_EXTRA_FORBIDDEN: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("0.0.0.0/8"),  # "this network"
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT (RFC 6598)
    ipaddress.ip_network("169.254.169.254/32"),  # cloud metadata (AWS, GCP, Azure, OpenStack...)
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
)
# NAT64 (RFC 6052): the last 32 bits are the IPv4 address a gateway would reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class GuardError(Exception):
    """The guard refused a destination. ``reason`` is stable; ``host`` and ``address`` say which."""

    def __init__(self, message: str, *, reason: str, host: str = "", address: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.host = host
        self.address = address


def forbidden_address(address: IPAddress) -> bool:
    """Whether a node must not connect to ``address`` (private, loopback, link-local, metadata...)."""
    if isinstance(address, ipaddress.IPv6Address):
        # A zone id ("fe80::1%eth0") only occurs on link-local addresses; compare without it.
        address = ipaddress.IPv6Address(address.compressed.partition("%")[0])
        # IPv4-mapped and NAT64 addresses reach the IPv4 address they carry: judge that one.
        if address.ipv4_mapped is not None:
            return forbidden_address(address.ipv4_mapped)
        if address in _NAT64:
            return forbidden_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        tunnelled = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if address.is_site_local or (tunnelled is not None and forbidden_address(tunnelled)):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(address in network for network in _EXTRA_FORBIDDEN if network.version == address.version)
    )


def check_url(url: httpx.URL) -> None:
    """Refuse URLs the node never requests: other schemes than http(s), credentials, no host."""
    if url.scheme not in ("http", "https"):
        raise GuardError(f"scheme {url.scheme!r} is not allowed", reason="bad_scheme")
    if url.userinfo:
        raise GuardError("URLs with credentials are not allowed", reason="userinfo")
    if not url.host:
        raise GuardError("the URL has no host", reason="invalid_url")


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the system resolver, without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks and connects to checked addresses only.

    ``inner`` opens the sockets (by default anyio's backend); ``exempt`` lists networks allowed
    even though they lie in a forbidden range (say, one known peer on an intranet).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        exempt: Iterable[IPNetwork] = (),
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver: Resolver = resolver or system_resolver
        self.exempt = tuple(exempt)
        self.inner = inner or httpcore.AnyIOBackend()

    def allowed(self, address: IPAddress) -> bool:
        """Whether this backend may connect to ``address``."""
        if self.allow_private or not forbidden_address(address):
            return True
        return any(address.version == net.version and address in net for net in self.exempt)

    def _check(self, host: str, text: str) -> str:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise GuardError(
                f"{host} resolved to {text!r}, not an address",
                reason="private_address",
                host=host,
                address=text,
            ) from None
        if not self.allowed(address):
            raise GuardError(
                f"{host} is a forbidden address ({text})", reason="private_address", host=host, address=text
            )
        return text

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        if _ip_literal(host) is not None:
            return [self._check(host, host.strip("[]"))]
        try:
            with anyio.fail_after(timeout):
                found = list(await self.resolver(host, port))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host} has no address")
        # One forbidden address refuses the host: a name that mixes public and private answers
        # is either misconfigured or an attempt to reach the inside.
        return [self._check(host, text) for text in found]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            try:
                self._check_peer(host, stream)
            except GuardError:
                await stream.aclose()
                raise
            return stream
        assert failure is not None
        raise failure

    def _check_peer(self, host: str, stream: httpcore.AsyncNetworkStream) -> None:
        if self.allow_private:
            return
        peer = stream.get_extra_info("server_addr")
        if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
            raise GuardError(
                f"cannot tell which address {host} connected to", reason="private_address", host=host
            )
        self._check(host, peer[0])

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise GuardError("Unix sockets are not allowed", reason="unix_socket", host=path)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP/1.1 transport with the :class:`GuardedBackend` under its connection pool.

    Proxies are not supported (a proxy would open the connections, out of the guard's reach).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        exempt: Iterable[IPNetwork] = (),
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self.backend = GuardedBackend(allow_private=allow_private, resolver=resolver, exempt=exempt)
        # httpx builds its pool without a way to pass a network backend: replace the pool with
        # the same one over the guarded backend, and fail closed if httpx keeps it elsewhere.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("cannot install the SSRF guard in this version of httpx")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self.backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_url(request.url)
        return await super().handle_async_request(request)
