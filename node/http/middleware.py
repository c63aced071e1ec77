"""ASGI middleware: request body limit, the CSRF cookie, and security headers on every response."""

from __future__ import annotations

import json
import secrets
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.http.runtime import CSRF_COOKIE


class BodyTooLarge(Exception):
    """The client sent more bytes than the node accepts."""


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
    """Refuses bodies over ``max_body_bytes`` with 413 (by Content-Length, or while streaming), gives
    every browser a random CSRF cookie, and adds security headers."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, secure_cookies: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
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


def _read_cookie(raw: bytes, name: str) -> str | None:
    try:
        jar: SimpleCookie = SimpleCookie(raw.decode("latin-1"))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is just ignored
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


async def _plain_error(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
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
            + SECURITY_HEADERS,
        }
    )
    await send({"type": "http.response.body", "body": body})
