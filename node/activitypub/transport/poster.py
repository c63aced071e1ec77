"""Delivery POSTs over lean HTTP/1.1 connections (:mod:`node.activitypub.transport.http1`), pooled per origin
and kept alive, signed as Mastodon signs them.

It sends one kind of request, a POST with a body, and keeps every guarantee of
:meth:`node.activitypub.transport.fetch.Fetcher.post`:

- the SSRF guard of :mod:`node.activitypub.transport.guard`: http(s) only, no credentials, the host
  resolved here and every address it resolves to checked, the connection opened to a checked
  address, and the peer address of the open socket checked again before TLS or any request byte;
- TLS with SNI and certificate checks, trusting what the fetcher trusts (or ``ssl_context``);
- a deadline (``timeout``) over connecting and the whole exchange; at most 64 KiB of an answer's
  body kept, and little more read (then the connection is closed); no redirect followed;
- every failure in the exception tree of :mod:`node.activitypub.transport.fetch` (``classify_status`` for
  statuses; ``Unavailable`` with ``connect_failed``, ``timeout``, ``tls_error`` or
  ``transport_error`` when there is no usable answer; ``PolicyViolation`` for refused URLs and
  addresses, and for a 3xx).

At most ``per_origin`` connections are open at once per (scheme, host, port); idle ones are kept for
``idle_seconds``. A kept connection found closed by the server before any byte of the answer came
back is replaced by a fresh one and the request sent once more; nothing else is retried here (POST is
not idempotent, even though receivers deduplicate activities by id).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import ipaddress
import re
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import TYPE_CHECKING

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub.signatures import PrivateKey, sign_cavage
from node.activitypub.signatures.cavage import signature_header, signing_text
from node.activitypub.signatures.digest import digest_header
from node.activitypub.transport.fetch import PolicyViolation, Unavailable, classify_status
from node.activitypub.transport.guard import (
    GuardedBackend,
    GuardError,
    IPAddress,
    IPNetwork,
    Resolver,
    check_url,
)
from node.activitypub.transport.http1 import Answer, Connection, Dropped

if TYPE_CHECKING:
    from node.settings import Settings

__all__ = ["ACTIVITY_JSON", "Answer", "InboxPoster", "rsa_signature", "user_agent"]

ACTIVITY_JSON = "application/activity+json"
SIGNED_POST = ("(request-target)", "host", "date", "digest", "content-type")
PER_ORIGIN = 4
IDLE_SECONDS = 4.0  # under the 5 s idle timeout of common servers (uvicorn, httpcore's pools)
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection", "user-agent"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_UNSAFE = re.compile(r"[\r\n\0]")
_TARGETS_KEPT = 4096


def user_agent(settings: Settings) -> str:
    """The User-Agent of this node's outgoing requests."""
    try:
        version = importlib.metadata.version("asasap")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"asasap/{version} (+{settings.base_url.rstrip('/')}/)"


def rsa_signature(
    target: str,
    host: str,
    date: str,
    digest: str,
    content_type: str,
    key_id: str,
    private_key: rsa.RSAPrivateKey,
) -> str:
    """The ``Signature`` of a POST, as :func:`~node.activitypub.signatures.sign_cavage` makes it with
    ``rsa-sha256`` (``target`` is the path and query sent, ``host`` the Host header), from the values the
    poster already holds."""
    fields = (
        ("(request-target)", f"post {target}"),
        ("host", host),
        ("date", date),
        ("digest", digest),
        ("content-type", content_type),
    )
    return signature_header(SIGNED_POST, signing_text(fields), key_id=key_id, private_key=private_key)


@dataclass(frozen=True)
class _Target:
    """A checked URL: where to connect, what to send, and the URL as sent (what gets signed)."""

    url: str
    scheme: str
    host: str  # IDNA-encoded name or bare IP: what is resolved, and the TLS server name
    port: int
    authority: str  # the Host header
    path: str  # the request target, path and query


def _parse(url: str) -> _Target:
    try:
        parsed = httpx.URL(url)
        check_url(parsed)
    except (httpx.InvalidURL, TypeError) as exc:
        raise PolicyViolation(f"invalid URL {url!r}: {exc}", url=url, reason="invalid_url") from None
    except GuardError as exc:
        raise PolicyViolation(f"{url}: {exc}", url=url, reason=exc.reason) from None
    authority, path = parsed.netloc.decode("ascii"), parsed.raw_path.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = parsed.raw_host.decode("ascii").lower()
    return _Target(f"{parsed.scheme}://{authority}{path}", parsed.scheme, host, port, authority, path)


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _Origin:
    """The connections to one (scheme, host, port): a cap on how many at once, and the idle ones."""

    __slots__ = ("slots", "idle", "users", "sweeper")

    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.idle: list[Connection] = []
        self.users = 0
        self.sweeper: asyncio.TimerHandle | None = None


class InboxPoster:
    """POSTs to remote inboxes over pooled HTTP/1.1 connections, guarded as the fetcher is.

    ``resolver`` and ``exempt`` go to the guard (see :mod:`node.activitypub.transport.guard`);
    ``ssl_context`` replaces the default TLS context (tests). Use from one event loop, as
    ``async with InboxPoster(...) as poster:`` or with a final :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        allow_private: bool = False,
        timeout: float = 10,
        per_origin: int = PER_ORIGIN,
        idle_seconds: float = IDLE_SECONDS,
        resolver: Resolver | None = None,
        exempt: Iterable[IPNetwork] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if _UNSAFE.search(user_agent):
            raise ValueError("the User-Agent cannot contain line breaks")
        self.user_agent = user_agent
        self.timeout = timeout
        self.per_origin = per_origin
        self.idle_seconds = idle_seconds
        self.guard = GuardedBackend(allow_private=allow_private, resolver=resolver, exempt=exempt)
        self.ssl_context = ssl_context
        self._origins: dict[tuple[str, str, int], _Origin] = {}
        self._targets: dict[str, _Target] = {}
        self._open: set[Connection] = set()
        self._closed = False
        self._dated: tuple[int, str] = (0, "")
        self._digested: tuple[bytes | None, str] = (None, "")

    @classmethod
    def from_settings(cls, settings: Settings) -> InboxPoster:
        """A poster for this node: its address policy, its fetch timeout, a User-Agent naming it."""
        return cls(
            user_agent=user_agent(settings),
            allow_private=settings.allow_private_addresses,
            timeout=settings.fetch_timeout_seconds,
        )

    async def __aenter__(self) -> InboxPoster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def post_signed(
        self,
        url: str,
        body: bytes,
        *,
        key_id: str,
        private_key: PrivateKey,
        content_type: str = ACTIVITY_JSON,
    ) -> Answer:
        """POST ``body`` to ``url`` signed as Mastodon signs (draft-cavage ``rsa-sha256`` over
        ``(request-target) host date digest content-type``); the 2xx answer, or a RemoteError.

        ``Date`` is formatted once a second and ``Digest`` computed once for consecutive posts of the
        same body; a key other than RSA signs with ``hs2019``, through ``sign_cavage``.
        """
        target = self._target(url)
        if isinstance(private_key, rsa.RSAPrivateKey):
            date, digest = self._date(), self._digest(body)
            signature = rsa_signature(
                target.path, target.authority, date, digest, content_type, key_id, private_key
            )
            added = [("Date", date), ("Digest", digest), ("Signature", signature)]
        else:
            fields = [("Host", target.authority), ("Content-Type", content_type)]
            signed = sign_cavage(
                "POST", target.url, fields, body, key_id=key_id, private_key=private_key, algorithm="hs2019"
            )
            added = list(signed.items())
        return await self._post(url, target, body, [("Content-Type", content_type), *added])

    async def post(self, url: str, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> Answer:
        """POST ``body`` to ``url`` with ``headers`` as given; the 2xx answer, or a RemoteError."""
        return await self._post(url, self._target(url), body, headers)

    async def aclose(self) -> None:
        """Close every connection; the poster cannot be used afterwards."""
        self._closed = True
        for origin in self._origins.values():
            if origin.sweeper is not None:
                origin.sweeper.cancel()
        self._origins.clear()
        open_now = list(self._open)
        for connection in open_now:
            connection.close()
        if open_now:
            await asyncio.wait([connection.lost for connection in open_now], timeout=5)

    # -- one request

    def _date(self) -> str:
        now = int(time.time())
        if now != self._dated[0]:
            self._dated = (now, format_datetime(datetime.fromtimestamp(now, UTC), usegmt=True))
        return self._dated[1]

    def _digest(self, body: bytes) -> str:
        if body is not self._digested[0]:
            self._digested = (body, digest_header(body))
        return self._digested[1]

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = _parse(url)
            if len(self._targets) >= _TARGETS_KEPT:
                self._targets.clear()
            self._targets[url] = target
        return target

    def _request(self, target: _Target, body: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
        lines = [
            f"POST {target.path} HTTP/1.1",
            f"Host: {target.authority}",
            f"User-Agent: {self.user_agent}",
            "Accept: */*",
            # An uncompressed answer: the cap counts the bytes read, not what they would unpack to.
            "Accept-Encoding: identity",
            f"Content-Length: {len(body)}",
        ]
        for name, value in headers:
            if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED or _UNSAFE.search(value):
                raise ValueError(f"header {name!r} cannot be sent")
            lines.append(f"{name}: {value}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("latin-1") + body

    async def _post(
        self, url: str, target: _Target, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> Answer:
        if self._closed:
            raise RuntimeError("the poster is closed")
        request = self._request(target, body, headers)
        key = (target.scheme, target.host, target.port)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(self.per_origin)
        origin.users += 1
        try:
            async with origin.slots:
                # The deadline starts with a slot: waiting behind other deliveries is not the server's fault.
                async with asyncio.timeout(self.timeout):
                    answer = await self._exchange(url, target, origin, request)
        except TimeoutError:
            raise Unavailable(f"{url} took more than {self.timeout} s", url=url, reason="timeout") from None
        finally:
            origin.users -= 1
            if not origin.users and not origin.idle and self._origins.get(key) is origin:
                del self._origins[key]
        error = classify_status(answer.status, {k.lower(): v for k, v in answer.headers}, url)
        if error is not None:
            raise error
        return answer

    async def _exchange(self, url: str, target: _Target, origin: _Origin, request: bytes) -> Answer:
        connection = self._take_idle(origin)
        while True:
            fresh = connection is None
            if connection is None:
                connection = await self._connect(url, target)
            try:
                answer = await connection.exchange(request)
            except Dropped as exc:
                connection.close()
                if fresh or exc.answered:
                    reason = "tls_error" if exc.tls else "transport_error"
                    raise Unavailable(f"{url}: {exc}", url=url, reason=reason) from None
                connection = None  # the server had closed the kept connection: once more, on a new one
                continue
            except BaseException:
                connection.close()
                raise
            self._keep(origin, connection)
            return answer

    # -- the pool

    def _take_idle(self, origin: _Origin) -> Connection | None:
        now = time.monotonic()
        while origin.idle:
            connection = origin.idle.pop()  # the most recent is the likeliest to be alive
            if connection.usable and now - connection.idle_since < self.idle_seconds:
                return connection
            connection.close()
        return None

    def _keep(self, origin: _Origin, connection: Connection) -> None:
        if not connection.usable or self._closed:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        origin.idle.append(connection)
        if origin.sweeper is None:
            loop = asyncio.get_running_loop()
            origin.sweeper = loop.call_later(self.idle_seconds, self._sweep, origin, connection.origin)

    def _sweep(self, origin: _Origin, key: tuple[str, str, int]) -> None:
        """Close the connections of ``origin`` idle for too long; again later while some remain."""
        origin.sweeper = None
        now = time.monotonic()
        for connection in [c for c in origin.idle if now - c.idle_since >= self.idle_seconds or not c.usable]:
            origin.idle.remove(connection)
            connection.close()
        if origin.idle:
            wait = self.idle_seconds - (now - min(c.idle_since for c in origin.idle))
            origin.sweeper = asyncio.get_running_loop().call_later(max(wait, 0.05), self._sweep, origin, key)
        elif not origin.users and self._origins.get(key) is origin:
            del self._origins[key]

    # -- connecting through the guard

    async def _addresses(self, url: str, target: _Target) -> list[str]:
        """The checked addresses of the target's host; one forbidden address refuses the host."""
        if _address(target.host) is not None:
            found: Sequence[str] = [target.host]
        else:
            try:
                found = await self.guard.resolver(target.host, target.port)
            except OSError as exc:
                message = f"cannot resolve {target.host}: {exc}"
                raise Unavailable(message, url=url, reason="connect_failed") from None
            if not found:
                raise Unavailable(f"{target.host} has no address", url=url, reason="connect_failed")
        checked = []
        for text in found:
            address = _address(text)
            if address is None or not self.guard.allowed(address):
                message = f"{url}: {target.host} is a forbidden address ({text})"
                raise PolicyViolation(message, url=url, reason="private_address")
            checked.append(str(address))
        return checked

    async def _connect(self, url: str, target: _Target) -> Connection:
        failure: OSError | None = None
        for address in await self._addresses(url, target):
            try:
                connection = await self._open_to(address, target)
            except OSError as exc:
                failure = exc
                continue
            try:
                self._check_peer(url, target, connection)
                if target.scheme == "https":
                    await self._start_tls(url, target, connection)
            except BaseException:
                connection.close()
                # A failed TLS handshake never reports the loss to the connection: do it here.
                if not connection.lost.done():
                    connection.lost.set_result(None)
                raise
            connection.reusable = True
            return connection
        raise Unavailable(f"cannot connect to {url}: {failure}", url=url, reason="connect_failed")

    async def _open_to(self, address: str, target: _Target) -> Connection:
        """A TCP connection to ``address``, tracked until it is lost."""
        loop = asyncio.get_running_loop()
        connection = Connection((target.scheme, target.host, target.port), loop.create_future())
        await loop.create_connection(lambda: connection, address, target.port)
        self._open.add(connection)
        connection.lost.add_done_callback(lambda _: self._open.discard(connection))
        return connection

    def _check_peer(self, url: str, target: _Target, connection: Connection) -> None:
        if self.guard.allow_private:
            return
        assert connection.transport is not None
        peer = connection.transport.get_extra_info("peername")
        address = _address(peer[0]) if isinstance(peer, tuple) and peer and isinstance(peer[0], str) else None
        if address is None or not self.guard.allowed(address):
            message = f"{url}: {target.host} connected to a forbidden address ({peer!r})"
            raise PolicyViolation(message, url=url, reason="private_address")

    async def _start_tls(self, url: str, target: _Target, connection: Connection) -> None:
        if self.ssl_context is None:  # the CAs the fetcher trusts, so that fetches and posts agree
            self.ssl_context = httpx.create_ssl_context(verify=True, trust_env=False)
        assert connection.transport is not None
        try:
            transport = await asyncio.get_running_loop().start_tls(
                connection.transport, connection, self.ssl_context, server_hostname=target.host
            )
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            raise Unavailable(f"TLS with {url} failed: {exc}", url=url, reason="tls_error") from None
        if transport is None:
            raise Unavailable(f"TLS with {url} failed", url=url, reason="tls_error")
        connection.transport = transport
