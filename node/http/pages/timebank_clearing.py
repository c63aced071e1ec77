"""``GET /timebank/clearing/{domain}``: this node's signed statement of its clearing account with the
node ``domain``, to a signed request by a key of that domain only (401 unsigned, 403 another domain,
404 on a market node). ``nonce`` (required) is echoed in the statement; ``since`` limits it to the
transfers since that point; ``buckets`` (comma-separated hex pairs) asks for those groups in full;
``digests=2`` asks for the digests kept up to date (version 2; version 1 otherwise).
See :mod:`node.timebank.reconcile` and :mod:`node.timebank.statements`."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from node.activitypub import addressing
from node.http.errors import json_error
from node.http.federation.actors import activity_json
from node.http.pages.market.agreements import signed_key_owner
from node.http.runtime import node_of, run
from node.market.schedule import parse_instant
from node.timebank import reconcile
from node.timebank.policy import Policy

_BUCKET = re.compile(r"^[0-9a-f]{2}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


async def clearing_statement(request: Request) -> Response:
    settings = node_of(request).settings
    if not Policy.of(settings).enabled:
        return json_error(404, "not_found", "This node keeps no time bank.")
    peer = request.path_params["domain"].lower()
    owner = await signed_key_owner(request)
    if isinstance(owner, Response):
        return owner
    if addressing.domain_of(owner) != peer:
        return json_error(403, "forbidden", "A statement is given only to the peer node itself.")
    nonce = request.query_params.get("nonce", "")
    buckets = [b for b in request.query_params.get("buckets", "").split(",") if b]
    version = request.query_params.get("digests", "1")
    if (
        not _NONCE.match(nonce)
        or not all(_BUCKET.match(b) for b in buckets)
        or len(buckets) > 256
        or version not in ("1", "2")
    ):
        return json_error(
            400,
            "invalid_request",
            "Give a nonce (8 to 64 URL-safe characters), hex buckets and digests 1 or 2.",
        )
    since: datetime | None = None
    if "since" in request.query_params:
        try:
            since = parse_instant(request.query_params["since"], "since")
        except ValueError as exc:
            return json_error(400, "invalid_request", str(exc))
    url = settings.url(request.url.path) + ("?" + request.url.query if request.url.query else "")

    def build(session: Session) -> dict[str, object]:
        document = reconcile.statement(
            session, settings, peer, since=since, nonce=nonce, buckets=buckets, url=url, version=int(version)
        )
        return reconcile.sign(session, settings, document)

    return activity_json(await run(request, build))


def routes() -> list[Route]:
    return [Route("/timebank/clearing/{domain:str}", clearing_statement, name="timebank_clearing")]
