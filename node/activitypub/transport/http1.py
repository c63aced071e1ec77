"""One HTTP/1.1 client connection on an asyncio transport (uvloop's too): it sends a request, parses
the answer with ``httptools`` and says whether the connection may serve another request.

Limits: the answer's head (status line and header fields) may not exceed 64 KiB; at most 64 KiB of
its body is kept, and once a little more than that has come, the answer ends there and the connection
is closed. An answer without ``Content-Length`` or chunks ends with the connection. Interim answers
(``100 Continue``) are skipped; a protocol switch, bytes nobody asked for, a malformed or cut answer
make :meth:`Connection.exchange` raise :class:`Dropped`, whose ``answered`` says whether any byte of
the answer had come back (the caller may only send the request again when none had).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import cast

import httptools

from node.activitypub.transport.fetch import POST_RESPONSE_BYTES

__all__ = ["BODY_BYTES", "HEAD_BYTES", "Answer", "Connection", "Dropped"]

HEAD_BYTES = 65_536  # status line and header fields of one answer
BODY_BYTES = POST_RESPONSE_BYTES  # kept of an answer's body


@dataclass(frozen=True)
class Answer:
    """An answer: its status, header fields as received, and at most 64 KiB of its body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of the header field ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


class Dropped(Exception):
    """The connection failed during an exchange; ``answered``: part of the answer had come back."""

    def __init__(self, message: str, *, answered: bool, tls: bool = False) -> None:
        super().__init__(message)
        self.answered = answered
        self.tls = tls


class Connection(asyncio.Protocol):
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
        """Send ``request`` and wait for its answer; :class:`Dropped` if the connection fails."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise Dropped("the connection is closed", answered=False)
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
        if self._received > HEAD_BYTES + BODY_BYTES:
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
                Dropped(message, answered=self._received > 0, tls=isinstance(exc, ssl.SSLError))
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
        room = BODY_BYTES - self._body_bytes
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
            waiter.set_exception(Dropped(message, answered=True))
        self.close()
