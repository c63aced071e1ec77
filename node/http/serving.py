"""How ``asasap serve`` runs uvicorn: which proxies are believed, how long a slow client may take, and
logging left to the node (:mod:`node.core.logs`).

uvicorn closes idle keep-alive connections but never a client that opens a connection and sends its
headers a byte at a time (or nothing at all). :class:`HeaderTimeoutProtocol` gives every request
``ASASAP_HEADER_TIMEOUT_SECONDS`` from its connection (or its first byte, on a kept-alive connection)
to the end of its headers, then closes the connection. Bodies are timed by the middleware
(:class:`node.http.middleware.NodeMiddleware`, 408 after ``ASASAP_BODY_TIMEOUT_SECONDS`` of silence).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from node.settings import Settings

log = logging.getLogger("asasap.web")

HEADER_TIMEOUT_VARIABLE = "ASASAP__HEADER_TIMEOUT"  # handed from `asasap serve` to its processes


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request headers do not arrive in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = float(os.environ.get(HEADER_TIMEOUT_VARIABLE) or 15)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closed a connection whose request headers took over %.0f s", self.header_timeout)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for this node: proxy headers only from ``ASASAP_TRUSTED_PROXIES``, the
    header timeout, our own access log and logging configuration."""
    os.environ[HEADER_TIMEOUT_VARIABLE] = str(settings.header_timeout_seconds)
    proxies = [part.strip() for part in settings.trusted_proxies.split(",") if part.strip()]
    return {
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "http": f"{HeaderTimeoutProtocol.__module__}:{HeaderTimeoutProtocol.__name__}",
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "timeout_keep_alive": 5,
    }
