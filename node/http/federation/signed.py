"""Signed GET requests (secure mode, and documents only another node may read): who signed one, checked
as the inbox checks its POSTs (:func:`node.activitypub.inbox.verify.verified_key`, with the key lookup
the application holds as ``app.state.key_lookup``)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from node.activitypub.inbox.verify import (
    InboxError,
    KeyLookup,
    KeyUnavailable,
    MalformedRequest,
    MissingSignature,
    has_signature,
    verified_key,
)
from node.activitypub.signatures import (
    Headers,
    MalformedSignature,
    SignedRequest,
    VerificationKey,
    parse_signature,
)
from node.http.errors import STATUS_CODES, json_error
from node.http.runtime import node_of

log = logging.getLogger("asasap.activitypub")


def request_target(request: Request) -> str:
    """The path and query of ``request`` as sent (what a signature covers)."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    target = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    query: bytes = request.scope.get("query_string", b"")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def signer_key(request: Request, *, unsigned: str) -> VerificationKey:
    """The verified key that signed ``request``; an :class:`InboxError` otherwise (``unsigned`` says what
    a request without any signature is told)."""
    message = SignedRequest(
        request.method, request_target(request), Headers.from_raw(request.scope["headers"])
    )
    if not has_signature(message.headers):
        raise MissingSignature(unsigned)
    try:
        parsed = parse_signature(message)
    except MalformedSignature as exc:
        raise MalformedRequest(f"malformed signature: {exc}") from exc
    lookup: KeyLookup | None = getattr(request.app.state, "key_lookup", None)
    if lookup is None:
        raise KeyUnavailable("This node cannot look up signature keys.")
    scheme = urlsplit(node_of(request).settings.base_url).scheme
    try:
        return await verified_key(message, parsed, lookup, scheme=scheme)
    except InboxError as exc:
        log.info("signed %s of %s refused: %s", request.method, message.target, exc.detail)
        raise


def refusal(error: InboxError) -> Response:
    """The answer to a GET whose signature was refused: the general code of its status (``bad_request``,
    ``unauthenticated``, ``forbidden``) and the inbox's message."""
    return json_error(error.status_code, STATUS_CODES.get(error.status_code, "error"), error.message)
