"""The inbox: verify an incoming activity, store it once, answer 202. Framework-free.

Checks run in this order, and nothing is stored unless every one passes:

1. content type ``application/activity+json`` or ``application/ld+json`` (any profile)  415
2. size at most ``settings.max_body_bytes``                                             413
3. the digest recomputed from the bytes (``Digest`` or ``Content-Digest``; a body
   without one is unauthenticated)                                            400 / 401
4. the body is a JSON object                                                            400
5. the signature: parsed (400, missing 401), verified with the key from the remote-actor
   cache, refetched once on failure for key rotation; Date within about an hour         401
6. the key's owner is the activity's ``actor``                                          401
7. the actor's domain is not blocked                                                    403
8. the activity has an ``id`` of the actor's origin                                     400
9. its type is one the node processes (``accepted_types``); other types are answered 202 and
   dropped with a log line (as Mastodon does), nothing is stored
10. the typed reader (:func:`node.activitypub.vocab.parse_activity`) accepts its shape      400
11. origins of embedded objects: what ``Create``/``Update``/``Delete`` act on must be of
    the signer's origin (id and attribution; 400 otherwise); any other embedded object of
    another origin is not trusted: it is replaced by its id, for handlers to fetch
12. deduplicated by activity id (a replay answers 202 and stores nothing), then stored:
    the block check, the deduplication and the insert are one statement, and the rows of
    concurrent requests share a transaction (:class:`GroupCommit`); 202 once committed

A ``Delete`` of an actor by itself whose key its origin no longer serves (410) is answered 202 and
dropped: Mastodon signs an account's deletion with the deleted account's key.

Errors (:class:`InboxError`; ``status_code`` and ``code`` go into the answer)::

    InboxError
    ├── UnsupportedMediaType   415 unsupported_media_type
    ├── PayloadTooLarge        413 payload_too_large
    ├── MalformedRequest       400 bad_request: malformed digest or signature header
    │   ├── InvalidJson        400 invalid_json: not JSON, or not an object
    │   ├── InvalidActivity    400 invalid_activity: no usable id, actor or type
    │   └── OriginMismatch     400 origin_mismatch: id or object of another origin
    ├── Unauthenticated        401 unauthenticated: no digest, bad signature or digest, stale date
    │   ├── MissingSignature   401 missing_signature
    │   ├── KeyUnavailable     401 key_unavailable: the key cannot be fetched or used
    │   └── ActorMismatch      401 actor_mismatch: signed by someone else than the actor
    ├── DomainBlockedError     403 domain_blocked
    └── RecipientNotFound      404 not_found (raised by the routes)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import anyio.to_thread
from sqlalchemy import Connection, Engine, Executable, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from node.activitypub import addressing, vocab
from node.activitypub.actors.remote import (
    ActorGone,
    DomainBlocked,
    RemoteActorError,
    RemoteActors,
    block_candidates,
    domain_blocked,
)
from node.activitypub.addressing import id_of, origin_of, same_origin, storable_uri
from node.activitypub.models import DomainBlock, InboxActivity, InboxState
from node.activitypub.signatures import (
    DigestMismatch,
    Headers,
    InvalidSignature,
    MalformedSignature,
    ParsedSignature,
    SignedRequest,
    VerificationKey,
    parse_signature,
    verify_signature,
)
from node.activitypub.signatures.digest import verify_body_digest
from node.activitypub.transport.fetch import RemoteError
from node.core.sqlbase import table_of
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.inbox")

ACTIVITY_MEDIA_TYPES = frozenset({"application/activity+json", "application/ld+json"})
CREATES_UPDATES_DELETES = frozenset({"Create", "Update", "Delete"})
EMBEDDING_FIELDS = ("object", "target", "origin", "result", "instrument")
ATTRIBUTION_FIELDS = ("attributedTo", "actor")
MAX_DEPTH = 8
MAX_ITEMS = 100  # objects in one list field


class InboxError(Exception):
    """A refused request: ``message`` is safe to send back, ``detail`` (for logs) says more."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message


class UnsupportedMediaType(InboxError):
    status_code, code = 415, "unsupported_media_type"


class PayloadTooLarge(InboxError):
    status_code, code = 413, "payload_too_large"


class MalformedRequest(InboxError):
    status_code, code = 400, "bad_request"


class InvalidJson(MalformedRequest):
    code = "invalid_json"


class InvalidActivity(MalformedRequest):
    code = "invalid_activity"


class OriginMismatch(MalformedRequest):
    code = "origin_mismatch"


class Unauthenticated(InboxError):
    status_code, code = 401, "unauthenticated"


class MissingSignature(Unauthenticated):
    code = "missing_signature"


class KeyUnavailable(Unauthenticated):
    code = "key_unavailable"


class ActorMismatch(Unauthenticated):
    code = "actor_mismatch"


class DomainBlockedError(InboxError):
    status_code, code = 403, "domain_blocked"


class RecipientNotFound(InboxError):
    status_code, code = 404, "not_found"


@dataclass(frozen=True)
class IncomingRequest:
    """A POST as received: ``target`` is the path and query as sent; ``scheme`` how it reached us."""

    method: str
    target: str
    headers: Headers
    body: bytes
    scheme: str = "https"


class Result(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # a replay of a stored activity id: nothing new stored
    IGNORED = "ignored"  # a type we do not process, or a gone actor's Delete: nothing stored


@dataclass(frozen=True)
class AcceptOutcome:
    """An accepted activity: always answered 202."""

    result: Result
    activity_id: str
    type: str
    inbox_id: int | None = None
    status_code: int = 202


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def media_type(headers: Headers) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def has_signature(headers: Headers) -> bool:
    """Whether the request tries to be signed at all, in either spec (a missing signature is 401, a
    broken one 400)."""
    if "signature" in headers or "signature-input" in headers:
        return True
    return any(value.strip().lower().startswith("signature ") for value in headers.get_all("authorization"))


KeyLookup = Callable[[str, bool], Awaitable[VerificationKey | None]]
"""``await lookup(key_id, refresh)``: the key ``key_id`` (fetched again when ``refresh``), or None."""


async def verified_key(
    message: SignedRequest, parsed: ParsedSignature, lookup: KeyLookup, *, scheme: str
) -> VerificationKey:
    """The key that verifies ``message``, looked up afresh once when the known one fails (the signer
    may have rotated it). Raises :class:`DomainBlockedError`, :class:`KeyUnavailable` (the key cannot be
    had, or is unknown), :class:`MalformedRequest` (the signature cannot be checked) or
    :class:`Unauthenticated` (it does not verify)."""
    key_id = parsed.key_id
    failure: InvalidSignature | None = None
    for refresh in (False, True):
        try:
            key = await lookup(key_id, refresh)
        except DomainBlocked as exc:
            raise DomainBlockedError("This domain is blocked.", str(exc)) from exc
        except ActorGone as exc:
            raise KeyUnavailable("The signer is gone.", str(exc)) from exc
        except (RemoteActorError, RemoteError) as exc:
            raise KeyUnavailable("The signing key cannot be fetched.", f"{key_id}: {exc}") from exc
        if key is None:
            raise KeyUnavailable("Unknown signature key.", key_id)
        try:
            verify_signature(message, parsed, key, scheme=scheme)
            return key
        except MalformedSignature as exc:
            raise MalformedRequest("The signature cannot be checked.", str(exc)) from exc
        except InvalidSignature as exc:
            failure = exc
    raise Unauthenticated("The signature does not verify.", f"{key_id}: {failure}")


class GroupCommit:
    """Runs a statement returning an optional id for the rows of concurrent requests, several rows
    per transaction, in a worker thread (group commit: one transaction and one thread hand-off for
    all the requests waiting, instead of one each). A caller resumes once its row is committed.

    A failing batch is retried row by row, so that one bad row fails only its own request.
    """

    def __init__(self, engine: Engine, statement: Executable, *, max_batch: int = 64) -> None:
        self.engine = engine
        self.statement = statement
        self.max_batch = max_batch
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def run(self, row: dict[str, Any]) -> int | None:
        """The id the statement returned for ``row`` (None when it returned nothing), once committed."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                results = await anyio.to_thread.run_sync(self._write, [row for row, _ in batch])
            except BaseException:  # cancelled (shutdown): no caller may wait forever
                for _, future in batch + self._waiting:
                    future.cancel()
                self._waiting = []
                raise
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _write(self, rows: list[dict[str, Any]]) -> list[int | None | Exception]:
        try:
            with self.engine.begin() as connection:
                return [self._one(connection, row) for row in rows]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request
            if len(rows) == 1:
                return [exc]
        return [self._write(rows[i : i + 1])[0] for i in range(len(rows))]

    def _one(self, connection: Connection, row: dict[str, Any]) -> int | None:
        returned = connection.execute(self.statement, row).first()
        return None if returned is None else int(returned[0])


class Inbox:
    """Verifies and stores incoming activities for ``InboxJob`` to process (see the module docs)."""

    def __init__(
        self, settings: Settings, engine: Engine, remote: RemoteActors, *, accepted_types: frozenset[str]
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.remote = remote
        self.accepted_types = accepted_types
        self._writer = GroupCommit(engine, store_statement(engine.dialect.name))

    async def accept(self, request: IncomingRequest, *, recipient_user_id: int | None) -> AcceptOutcome:
        """Verify and store ``request``'s activity; raises an :class:`InboxError` when refused."""
        try:
            outcome = await self._accept(request, recipient_user_id)
        except InboxError as exc:
            log.info("inbox refused %s (%s): %s", exc.status_code, exc.code, exc.detail)
            raise
        return outcome

    async def _accept(self, request: IncomingRequest, recipient_user_id: int | None) -> AcceptOutcome:
        headers = request.headers
        if media_type(headers) not in ACTIVITY_MEDIA_TYPES:
            raise UnsupportedMediaType(
                "Send application/activity+json.", f"content type {media_type(headers)!r}"
            )
        if len(request.body) > self.settings.max_body_bytes:
            raise PayloadTooLarge("The request body is too large.", f"{len(request.body)} bytes")
        self._check_digest(request)
        activity = self._parse(request.body)
        if not has_signature(headers):
            raise MissingSignature("The request is not signed.")
        signed = SignedRequest(request.method.upper(), request.target, headers, request.body)
        try:
            parsed = parse_signature(signed)
        except MalformedSignature as exc:
            raise MalformedRequest("The signature cannot be read.", str(exc)) from exc
        try:
            key = await self._verified_key(signed, parsed, request.scheme)
        except KeyUnavailable as exc:
            if isinstance(exc.__cause__, ActorGone) and _deletes_itself(activity):
                # Mastodon signs an account's Delete with the deleted account's key, which its
                # origin no longer serves (410): nothing to verify it with, nothing to store.
                log.info("inbox ignored the Delete of gone %s", exc.detail)
                return AcceptOutcome(Result.IGNORED, str(activity.get("id")), "Delete")
            raise
        actor = id_of(activity.get("actor"))
        if actor is None:
            raise InvalidActivity("The activity has no actor.")
        if key.owner != actor:
            raise ActorMismatch("The key does not belong to the actor.", f"{key.key_id} signed for {actor}")
        try:
            activity_id, kind = _check_activity(activity, actor)
            if kind not in self.accepted_types:
                await self._refuse_if_blocked(actor)
                log.info("inbox ignored %s %s: type not processed", kind, activity_id)
                return AcceptOutcome(Result.IGNORED, activity_id, kind)
            _check_shape(activity)
            payload, changed = sanitise(activity, actor)
        except InboxError:
            await self._refuse_if_blocked(actor)  # a blocked domain hears 403 first, as documented
            raise
        if changed:
            log.info("inbox %s: embedded objects of other origins replaced by their ids", activity_id)
        now = utcnow()
        row = {
            "activity_id": activity_id,
            "actor_uri": actor,
            "type": kind,
            "payload": _payload_text(payload, request.body, changed),
            "key_id": key.key_id,
            "recipient_user_id": recipient_user_id,
            "state": InboxState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
            "error": "",
        }
        candidates = block_candidates(addressing.domain_of(actor))
        if len(candidates) > BLOCK_SLOTS:  # a very deep domain name: check all of them apart
            await self._refuse_if_blocked(actor)
        row.update(block_slots(candidates))
        inserted = await self._writer.run(row)
        if inserted is None:  # the domain was blocked, or the id is already stored
            await self._refuse_if_blocked(actor)
            log.info("inbox replay of %s: already stored", activity_id)
            return AcceptOutcome(Result.DUPLICATE, activity_id, kind)
        return AcceptOutcome(Result.STORED, activity_id, kind, inserted)

    async def _refuse_if_blocked(self, actor: str) -> None:
        if await anyio.to_thread.run_sync(self._blocked, addressing.domain_of(actor)):
            raise DomainBlockedError("This domain is blocked.", f"{actor} is on a blocked domain")

    def _blocked(self, domain: str) -> bool:
        with self.engine.connect() as connection:
            return domain_blocked(connection, domain)

    def _check_digest(self, request: IncomingRequest) -> None:
        if not request.body:
            return
        if "digest" not in request.headers and "content-digest" not in request.headers:
            raise Unauthenticated("The body has no digest.", "no Digest or Content-Digest with a body")
        try:
            verify_body_digest(request.headers.lines(), request.body)
        except DigestMismatch as exc:
            raise Unauthenticated("The body does not match its digest.", str(exc)) from exc
        except MalformedSignature as exc:
            raise MalformedRequest("The digest cannot be read.", str(exc)) from exc

    @staticmethod
    def _parse(body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidJson("The body is not valid JSON.", str(exc)[:200]) from exc
        if not isinstance(value, dict):
            raise InvalidJson("The body is not a JSON object.")
        return value

    async def _verified_key(
        self, signed: SignedRequest, parsed: ParsedSignature, scheme: str
    ) -> VerificationKey:
        return await verified_key(signed, parsed, self._lookup, scheme=scheme)

    def _lookup(self, key_id: str, refresh: bool) -> Awaitable[VerificationKey | None]:
        return self.remote.key_for(key_id, refresh=refresh)


STORED_COLUMNS = (
    "activity_id",
    "actor_uri",
    "type",
    "payload",
    "key_id",
    "recipient_user_id",
    "state",
    "attempts",
    "next_attempt_at",
    "received_at",
    "error",
)


BLOCK_SLOTS = 6


def block_slots(candidates: list[str]) -> dict[str, str]:
    """The ``block_<n>`` parameters of :func:`store_statement`: the candidates, the first repeated."""
    padded = (candidates + candidates[:1] * BLOCK_SLOTS)[:BLOCK_SLOTS]
    return {f"block_{i}": domain for i, domain in enumerate(padded)}


def store_statement(dialect: str) -> Executable:
    """``INSERT INTO inbox ... SELECT <params> WHERE <domain not blocked> ON CONFLICT DO NOTHING
    RETURNING id``: the block check, the deduplication and the insert in one statement.

    Parameters: the columns of :data:`STORED_COLUMNS` and :func:`block_slots` (the block entries
    that would cover the actor's domain). No row comes back when blocked or already stored.
    """
    table, blocks = table_of(InboxActivity), table_of(DomainBlock)
    columns = [table.c[name] for name in STORED_COLUMNS]
    # A fixed number of parameters rather than an expanding list: compiled once, not per row.
    slots = [bindparam(f"block_{i}", type_=blocks.c.domain.type) for i in range(BLOCK_SLOTS)]
    blocked = select(blocks.c.id).where(blocks.c.domain.in_(slots))
    values = select(*(bindparam(column.name, type_=column.type) for column in columns)).where(
        ~exists(blocked)
    )
    insert = postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return (
        insert.from_select(columns, values)
        .on_conflict_do_nothing(index_elements=[table.c.activity_id])
        .returning(table.c.id)
    )


def _check_activity(activity: dict[str, Any], actor: str) -> tuple[str, str]:
    if not storable_uri(actor) or origin_of(actor) is None:
        raise InvalidActivity("The activity's actor is not usable.")
    activity_id = activity.get("id")
    if not isinstance(activity_id, str) or not activity_id or not storable_uri(activity_id):
        raise InvalidActivity("The activity has no usable id.")
    if not same_origin(activity_id, actor):
        raise OriginMismatch("The activity id is not of the actor's origin.", f"{activity_id} by {actor}")
    kind = activity.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 40 or not storable_uri(kind):
        raise InvalidActivity("The activity has no usable type.")
    return activity_id, kind


def _check_shape(activity: dict[str, Any]) -> None:
    """Refuse an activity the typed reader refuses (a required field missing or of the wrong shape)."""
    try:
        vocab.parse_activity(activity)
    except vocab.UnknownActivityType:
        return  # a type of ours the reader does not list: its handlers read it
    except vocab.VocabError as exc:
        raise InvalidActivity("The activity is malformed.", str(exc)) from exc


def _payload_text(payload: dict[str, Any], body: bytes, changed: bool) -> str:
    """What to store: the bytes received when nothing was replaced, else the sanitised JSON."""
    if not changed:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # JSON in UTF-16 or UTF-32: store it re-encoded
    return json.dumps(payload, separators=(",", ":"))  # ASCII: lone surrogates stay escaped


def _deletes_itself(activity: dict[str, Any]) -> bool:
    actor = id_of(activity.get("actor"))
    return activity.get("type") == "Delete" and actor is not None and id_of(activity.get("object")) == actor


# --- origins of embedded objects -------------------------------------------------------------------


def _attributions(value: dict[str, Any]) -> list[object]:
    found: list[object] = []
    for name in ATTRIBUTION_FIELDS:
        entry = value.get(name)
        found.extend(entry if isinstance(entry, list) else [entry] if entry is not None else [])
    return found


def _trusted(value: dict[str, Any], signer: str) -> bool:
    """An embedded object is trusted when its id and attributions all have the signer's origin."""
    object_id = id_of(value)
    if object_id is not None and not same_origin(object_id, signer):
        return False
    return all(
        (uri := id_of(entry)) is not None and same_origin(uri, signer) for entry in _attributions(value)
    )


def _sanitise_value(value: object, signer: str, *, acted_on: bool, depth: int) -> tuple[object, bool]:
    if depth > MAX_DEPTH:
        raise InvalidActivity("The activity nests too deeply.")
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise InvalidActivity("The activity lists too many objects.")
        pairs = [_sanitise_value(item, signer, acted_on=acted_on, depth=depth + 1) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    if isinstance(value, str):
        if acted_on and not same_origin(value, signer):
            raise OriginMismatch("The object is not of the actor's origin.", f"{value} acted on by {signer}")
        return value, False
    if not isinstance(value, dict):
        return value, False
    if _trusted(value, signer):
        if acted_on and id_of(value) is None:
            raise InvalidActivity("The object has no id.")
        inner, changed = _sanitise_fields(value, signer, acted_on=False, depth=depth + 1)
        return inner, changed
    if acted_on:
        detail = f"{id_of(value)} (or what it is attributed to) acted on by {signer}"
        raise OriginMismatch("The object is not of the actor's origin.", detail)
    object_id = id_of(value)
    if object_id is None:
        raise OriginMismatch(
            "An embedded object is attributed to another origin.", f"anonymous object in {signer}"
        )
    return object_id, True


def _sanitise_fields(
    value: dict[str, Any], signer: str, *, acted_on: bool, depth: int
) -> tuple[dict[str, Any], bool]:
    result = dict(value)
    changed = False
    for name in EMBEDDING_FIELDS:
        if name in result:
            is_acted_on = acted_on and name == "object"
            result[name], field_changed = _sanitise_value(
                result[name], signer, acted_on=is_acted_on, depth=depth
            )
            changed = changed or field_changed
    return result, changed


def sanitise(activity: dict[str, Any], signer: str) -> tuple[dict[str, Any], bool]:
    """The activity with untrusted embedded objects replaced by their ids, and whether any was.

    Raises :class:`OriginMismatch` when what a Create, Update or Delete acts on is of another
    origin than ``signer`` (or attributed to another origin).
    """
    acted_on = activity.get("type") in CREATES_UPDATES_DELETES
    return _sanitise_fields(activity, signer, acted_on=acted_on, depth=1)
