"""A loopback proxy in front of a real node, which loses, repeats or holds what is posted to it.

The node's public address (``ASASAP_BASE_URL``) is the proxy's, so every request to the node from
another node goes through it, headers and body untouched (signatures stay valid). ``plan`` queues what
happens to the next POSTs: ``pass`` (forward), ``lose`` (answer 202 without forwarding: the sender
believes it delivered), ``drop`` (answer 503 without forwarding: the sender retries), ``repeat``
(forward twice), ``hold`` (forward, then keep the answer until :meth:`Proxy.release`), ``stall`` (keep
the request, unforwarded, until :meth:`Proxy.release`, then answer 503: the sender is killed meanwhile,
and the node behind never hears of it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target = f"http://127.0.0.1:{target_port}"
        self.plans: deque[str] = deque()
        self.seen: list[tuple[str, str]] = []  # (path, what was done)
        self.released = threading.Event()
        self.holding = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def plan(self, *actions: str) -> None:
        self.plans.extend(actions)

    def release(self) -> None:
        self.released.set()

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> httpx.Response:
        kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        return httpx.request(method, self.target + path, headers=kept, content=body, timeout=60)


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            return

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = list(self.headers.items())
            action = proxy.plans.popleft() if self.command == "POST" and proxy.plans else "pass"
            proxy.seen.append((self.path, action))
            if action == "lose":
                self._answer(202, [], b"")
                return
            if action == "stall":
                proxy.holding.set()
                proxy.released.wait(120)
                proxy.released.clear()
            if action in ("drop", "stall"):
                try:
                    self._answer(503, [("Retry-After", "1")], b"")
                except OSError:
                    pass  # the sender was killed while its request stalled
                return
            try:
                response = proxy._forward(self.command, self.path, headers, body)
                if action == "repeat":
                    proxy._forward(self.command, self.path, headers, body)
            except httpx.HTTPError:
                self._answer(502, [], b"")
                return
            if action == "hold":
                proxy.holding.set()
                proxy.released.wait(120)
                proxy.released.clear()
            self._answer(response.status_code, list(response.headers.items()), response.content)

        do_GET = _handle  # noqa: N815 - the base class's naming
        do_POST = _handle  # noqa: N815

    return Handler


@contextmanager
def running_proxy(target_port: int) -> Iterator[Proxy]:
    proxy = Proxy(target_port)
    proxy.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    proxy.server.daemon_threads = True
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.released.set()
        proxy.server.shutdown()
        proxy.server.server_close()
