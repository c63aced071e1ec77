"""Delivery POSTs over a lean HTTP/1.1 client: keep-alive connections pooled per origin on plain
asyncio transports (uvloop's too), answers parsed by ``httptools``, requests signed as Mastodon
signs them.

It sends one kind of request, a POST with a body, and keeps every guarantee of
:meth:`node.activitypub.fetch.Fetcher.post`:

- the SSRF guard of :mod:`node.activitypub.fetch_guard`: http(s) only, no credentials, the host
  resolved here and every address it resolves to checked, the connection opened to a checked
  address, and the peer address of the open socket checked again before TLS or any request byte;
- TLS with SNI and certificate checks (``ssl.create_default_context()`` unless told otherwise);
- a deadline (``timeout``) over connecting and the whole exchange; at most 64 KiB of an answer's
  body kept, and little more read (then the connection is closed); no redirect followed;
- every failure in the exception tree of :mod:`node.activitypub.fetch` (``classify_status`` for
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
from types import TracebackType
from typing import TYPE_CHECKING, cast

import httptools
import httpx

from node.activitypub.fetch import (
    POST_RESPONSE_BYTES,
    PolicyViolation,
    Unavailable,
    classify_status,
)
from node.activitypub.fetch_guard import GuardedBackend, GuardError, IPAddress, IPNetwork, Resolver, check_url
from node.activitypub.signatures import PrivateKey, sign_cavage

if TYPE_CHECKING:
    from node.settings import Settings

__all__ = ["ACTIVITY_JSON", "Answer", "InboxPoster", "user_agent"]

ACTIVITY_JSON = "application/activity+json"
HEAD_BYTES = 65_536  # status line and header fields of one answer
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


@dataclass(frozen=True)
class Answer:
    """A 2xx answer: its status, header fields as received, and at most 64 KiB of its body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of the header field ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


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


class _Dropped(Exception):
    """The connection failed during an exchange; ``answered``: part of the answer had come back."""

    def __init__(self, message: str, *, answered: bool, tls: bool = False) -> None:
        super().__init__(message)
        self.answered = answered
        self.tls = tls


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a request, parses its answer, and knows if it may serve again.

    It is also the ``httptools`` parser's callback object (the ``on_*`` methods).
    """

    def __init__(self, origin: tuple[str, str, int], lost: asyncio.Future[None]) -> None:
        self.origin = origin
        self.lost = lost  # done when the transport is gone
        self.transport: asyncio.Transport | None = None
        self.reusable = False  # the last answer was complete and the server keeps the connection
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._begin()

    def _begin(self) -> None:
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._head_bytes = 0
        self._received = 0
        self._head_done = False
        self._framed = False  # Content-Length or chunked: the answer does not end with the connection

    @property
    def usable(self) -> bool:
        """Whether a request may be sent on this connection now."""
        return self.reusable and self.transport is not None and not self.transport.is_closing()

    async def exchange(self, request: bytes) -> Answer:
        """Send ``request`` and wait for its answer; :class:`_Dropped` if the connection fails."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise _Dropped("the connection is closed", answered=False)
        self.reusable = False
        self._begin()
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        transport.write(request)
        try:
            return await waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        """Close at once; any exchange in progress fails."""
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: this connection cannot be trusted any more
            return
        if not self._head_done and self._received > HEAD_BYTES:
            self._fail(f"the answer's head is larger than {HEAD_BYTES} bytes")
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("the server switched protocols")
        except httptools.HttpParserError as exc:
            self._fail(f"malformed answer: {exc}")
        if waiter.done():
            return
        if self._received > HEAD_BYTES + POST_RESPONSE_BYTES:
            self._finish(keep=False)  # enough: the rest is neither needed nor read
            self.close()

    def eof_received(self) -> bool | None:
        self.reusable = False
        self._end_without_framing()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if exc is None:
            self._end_without_framing()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            message = f"the connection was lost: {exc!r}" if exc else "the server closed the connection"
            waiter.set_exception(
                _Dropped(message, answered=self._received > 0, tls=isinstance(exc, ssl.SSLError))
            )
        if not self.lost.done():
            self.lost.set_result(None)

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # a second answer to one request

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_bytes > HEAD_BYTES:
            raise ValueError(f"the answer's head is larger than {HEAD_BYTES} bytes")  # stops the parser
        key = name.decode("latin-1")
        self._headers.append((key, value.decode("latin-1")))
        if key.lower() in ("content-length", "transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._head_done = True

    def on_body(self, body: bytes) -> None:
        room = POST_RESPONSE_BYTES - self._body_bytes
        if room > 0:
            self._body.append(body[:room])
        self._body_bytes += len(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue, 103): the real one follows
            received = self._received
            self._begin()
            self._received = received
            return
        self._finish(keep=self._parser.should_keep_alive())

    # -- helpers

    def _end_without_framing(self) -> None:
        """An answer without Content-Length or chunks ends when the connection does."""
        if self._head_done and not self._framed and self._status >= 200:
            self._finish(keep=False)

    def _finish(self, *, keep: bool) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        self.reusable = keep
        waiter.set_result(Answer(self._status, tuple(self._headers), b"".join(self._body)))

    def _fail(self, message: str) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(_Dropped(message, answered=True))
        self.close()


class _Origin:
    """The connections to one (scheme, host, port): a cap on how many at once, and the idle ones."""

    __slots__ = ("slots", "idle", "users", "sweeper")

    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.idle: list[_Connection] = []
        self.users = 0
        self.sweeper: asyncio.TimerHandle | None = None


class InboxPoster:
    """POSTs to remote inboxes over pooled HTTP/1.1 connections, guarded as the fetcher is.

    ``resolver`` and ``exempt`` go to the guard (see :mod:`node.activitypub.fetch_guard`);
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
        self._open: set[_Connection] = set()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> InboxPoster:
        """A poster for this node: its address policy, its fetch timeout, a User-Agent naming it."""
        return cls(
            user_agent=user_agent(settings),
            allow_private=settings.allow_private_addresses,
            timeout=settings.fetch_timeout_seconds,
            **options,  # type: ignore[arg-type]
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
        """POST ``body`` to ``url`` signed as Mastodon signs (``(request-target) host date digest
        content-type``, draft-cavage ``rsa-sha256``); the 2xx answer, or a RemoteError."""
        target = self._target(url)
        fields = [("Host", target.authority), ("Content-Type", content_type)]
        added = sign_cavage("POST", target.url, fields, body, key_id=key_id, private_key=private_key)
        return await self._post(url, target, body, [("Content-Type", content_type), *added.items()])

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
            except _Dropped as exc:
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

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        now = time.monotonic()
        while origin.idle:
            connection = origin.idle.pop()  # the most recent is the likeliest to be alive
            if connection.usable and now - connection.idle_since < self.idle_seconds:
                return connection
            connection.close()
        return None

    def _keep(self, origin: _Origin, connection: _Connection) -> None:
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

    async def _connect(self, url: str, target: _Target) -> _Connection:
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

    async def _open_to(self, address: str, target: _Target) -> _Connection:
        """A TCP connection to ``address``, tracked until it is lost."""
        loop = asyncio.get_running_loop()
        connection = _Connection((target.scheme, target.host, target.port), loop.create_future())
        await loop.create_connection(lambda: connection, address, target.port)
        self._open.add(connection)
        connection.lost.add_done_callback(lambda _: self._open.discard(connection))
        return connection

    def _check_peer(self, url: str, target: _Target, connection: _Connection) -> None:
        if self.guard.allow_private:
            return
        assert connection.transport is not None
        peer = connection.transport.get_extra_info("peername")
        address = _address(peer[0]) if isinstance(peer, tuple) and peer and isinstance(peer[0], str) else None
        if address is None or not self.guard.allowed(address):
            message = f"{url}: {target.host} connected to a forbidden address ({peer!r})"
            raise PolicyViolation(message, url=url, reason="private_address")

    async def _start_tls(self, url: str, target: _Target, connection: _Connection) -> None:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
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
