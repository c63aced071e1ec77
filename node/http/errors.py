"""Error responses: a translated HTML page for people, a stable JSON shape for the API and ActivityPub.

The JSON shape is ``{"error": {"code": str, "message": str, "fields": {name: message}?}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from node.core.errors import N_, DomainError, Throttled, http_status
from node.http.middleware import BodyTooLarge, BodyTooSlow
from node.http.runtime import gettext_for, render

log = logging.getLogger("asasap.web")

STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "throttled",
    500: "internal_error",
}
DEFAULT_MESSAGES = {
    400: N_("The request is not valid."),
    401: N_("Authentication is required."),
    403: N_("You are not allowed to do this."),
    404: N_("This page does not exist."),
    405: N_("This method is not allowed here."),
    408: N_("The request took too long to arrive."),
    413: N_("The request body is too large."),
    429: N_("Too many requests. Try again later."),
    500: N_("Something went wrong on our side. The error was logged."),
}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def json_error(
    status: int,
    code: str,
    message: str,
    *,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = dict(fields)
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers or {}))


async def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The error as JSON or as a page, in the request's language."""
    code = code or STATUS_CODES.get(status, "error")
    if wants_json(request):
        if "accept-language" in request.headers:  # API clients get English unless they ask otherwise
            _ = gettext_for(request)
            message, fields = _(message), {name: _(text) for name, text in (fields or {}).items()}
        return json_error(status, code, message, fields=fields, headers=headers)
    try:
        _ = gettext_for(request)
        page = await render(
            request,
            "error.html",
            {"status": status, "message": _(message), "fields": {k: _(v) for k, v in (fields or {}).items()}},
            status_code=status,
        )
    except Exception:  # noqa: BLE001 - an error page must never fail; fall back to plain text
        log.exception("could not render the error page")
        return Response(message, status_code=status, media_type="text/plain")
    for name, value in (headers or {}).items():
        page.headers[name] = value
    return page


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.detail and exc.detail != _reason(exc.status_code) else None
    message = detail or DEFAULT_MESSAGES.get(exc.status_code, N_("The request could not be handled."))
    return await error_response(request, exc.status_code, message, headers=exc.headers)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
    return await error_response(
        request, http_status(exc), exc.message, code=exc.code, fields=exc.fields, headers=headers
    )


async def _too_large(request: Request, exc: Exception) -> Response:
    return await error_response(request, 413, DEFAULT_MESSAGES[413])


async def _too_slow(request: Request, exc: Exception) -> Response:
    log.info("%s: the request body stalled; answered 408", request.method)
    return await error_response(request, 408, DEFAULT_MESSAGES[408], headers={"Connection": "close"})


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while sending its request: one line, no traceback; nobody reads the answer."""
    log.info("%s: the client disconnected before sending its whole request", request.method)
    return Response(status_code=499)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return await error_response(request, 500, DEFAULT_MESSAGES[500])


Handler = Callable[[Request, Exception], Coroutine[Any, Any, Response]]


def handlers() -> dict[Any, Handler]:
    return {
        HTTPException: _http_exception,
        DomainError: _domain_error,
        BodyTooLarge: _too_large,
        BodyTooSlow: _too_slow,
        ClientDisconnect: _client_gone,
        Exception: _server_error,
    }
