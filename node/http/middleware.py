"""ASGI middleware: request id, body size and time limits, the CSRF cookie, security headers on every
response, and each request counted and logged by its route template."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.core.logs import REQUEST_ID_SHAPE, request_id
from node.core.metrics import METRICS
from node.http.runtime import CSRF_COOKIE

log = logging.getLogger("asasap.access")


class BodyTooLarge(Exception):
    """The client sent more bytes than the node accepts."""


class BodyTooSlow(Exception):
    """The client stopped sending its request body."""


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]


class NodeMiddleware:
    """Gives each request an id (``X-Request-Id``), refuses bodies over ``max_body_bytes`` with 413 (by
    Content-Length, or while streaming) and bodies that stall for ``body_timeout`` seconds with 408,
    gives every browser a random CSRF cookie, adds security headers, and counts and logs the request."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, secure_cookies: bool, body_timeout: float = 30.0
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.secure_cookies = secure_cookies
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        sent_id = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = sent_id if REQUEST_ID_SHAPE.match(sent_id) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = [500]

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self._handle(scope, headers, receive, counted_send)
        finally:
            route = route_template(scope)
            elapsed = time.perf_counter() - started
            METRICS.inc(
                "asasap_http_requests_total", route=route, method=scope["method"], status=str(status[0])
            )
            METRICS.observe("asasap_http_request_duration_seconds", elapsed, route=route)
            log.info(
                "%s %s %s %.1f ms",
                scope["method"],
                route,
                status[0],
                elapsed * 1000,
                extra={"method": scope["method"], "route": route, "status": status[0]},
            )
            request_id.reset(token)

    async def _handle(self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send) -> None:
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _plain_error(scope, send, 400, "bad_request", "Invalid Content-Length.")
                return
            if int(length) > self.max_body_bytes:
                await _plain_error(scope, send, 413, "payload_too_large", "The request body is too large.")
                return
        cookie = _read_cookie(headers.get(b"cookie", b""), CSRF_COOKIE)
        new_cookie = None
        if cookie is None or not 20 <= len(cookie) <= 64:
            cookie = new_cookie = secrets.token_urlsafe(24)
        scope["asasap.csrf"] = cookie
        received = 0
        response_started = False
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # waiting for a disconnect while a response streams: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=self.body_timeout)
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                extra = list(SECURITY_HEADERS)
                if new_cookie is not None:
                    value = f"{CSRF_COOKIE}={new_cookie}; Path=/; HttpOnly; SameSite=Lax"
                    if self.secure_cookies:
                        value += "; Secure"
                    extra.append((b"set-cookie", value.encode()))
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in extra if name not in present or name == b"set-cookie"
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if not response_started:
                await _plain_error(scope, send, 413, "payload_too_large", "The request body is too large.")
        except BodyTooSlow:
            log.info("request body stalled for %.0f s: answered 408", self.body_timeout)
            if not response_started:
                await _plain_error(
                    scope, send, 408, "request_timeout", "The request body took too long.", close=True
                )


def route_template(scope: Scope) -> str:
    """The route a request matched, as a template (``/users/{username}``), so that neither metrics nor
    logs carry what the client put in the path; ``unmatched`` when no route took it."""
    if "endpoint" not in scope:
        return "unmatched"
    segments: list[str] = (scope.get("root_path", "") + scope.get("path", "")).split("/")
    taken = [False] * len(segments)
    for name, value in scope.get("path_params", {}).items():
        wanted = str(value).split("/")
        for start in range(len(segments) - len(wanted), -1, -1):  # the last place the value stands
            span = range(start, start + len(wanted))
            if segments[start : start + len(wanted)] == wanted and not any(taken[i] for i in span):
                segments[start : start + len(wanted)] = ["{" + name + "}"] + [""] * (len(wanted) - 1)
                for i in span:
                    taken[i] = True
                break
    return "/".join(s for i, s in enumerate(segments) if s or not taken[i])


def _read_cookie(raw: bytes, name: str) -> str | None:
    try:
        jar: SimpleCookie = SimpleCookie(raw.decode("latin-1"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is just ignored
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


async def _plain_error(
    scope: Scope, send: Send, status: int, code: str, message: str, *, close: bool = False
) -> None:
    """An error answered before the app runs: JSON for the API and ActivityPub, text otherwise."""
    path: str = scope.get("path", "")
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
    if path.startswith("/api/") or "json" in accept:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        content_type = b"application/json"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
            + ([(b"connection", b"close")] if close else [])
            + SECURITY_HEADERS,
        }
    )
    await send({"type": "http.response.body", "body": body})
