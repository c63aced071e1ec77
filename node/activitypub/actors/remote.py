"""The cache of remote actors and of their public keys, filled from their origin only.

An actor document (read with :func:`node.activitypub.vocab.parse_actor`) is accepted when its
``id`` is the URI fetched, its inbox has its origin and the key it publishes is owned by it and has
its origin. Text fields are sanitised; the actor is stored with a ``peers`` row for its server.

A key is found from its id: Mastodon serves the actor at ``<actor>#main-key``; other servers serve
a key document with an ``owner``, whose actor must list the key back, or (GoToSocial) a stub of the
actor at the key's own URL. Keys are kept in memory per key id, with the ``remote_actors`` table as
backing store.

Errors, all :class:`RemoteActorError` with a stable ``reason``::

    RemoteActorError
    ├── LocalUri        local        the URI is one of ours: never fetched
    ├── DomainBlocked   blocked      the domain (or a parent domain) is blocked
    ├── ActorGone       gone         the origin answered 410 (or it did before)
    ├── InvalidActor    invalid      the document is not a usable actor, or does not hold the key
    └── FetchFailed     <fetch>      the fetch failed; ``retryable`` says whether to try later
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import bleach
from sqlalchemy import ColumnElement, Connection, Engine, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from node.activitypub import addressing, vocab
from node.activitypub.actors import icons, local
from node.activitypub.addressing import origin_of, same_origin, storable_uri
from node.activitypub.lifecycles import PEER_LIFECYCLE
from node.activitypub.models import DomainBlock, Peer, PeerState, RemoteActor
from node.activitypub.signatures import PublicKey, UnusableKey, VerificationKey, load_public_key_pem
from node.activitypub.transport.fetch import Fetcher, Gone, RemoteError, retryable
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.settings import Settings

log = logging.getLogger("asasap.federation")
T = TypeVar("T")

SUMMARY_TAGS = frozenset(
    {"p", "br", "a", "span", "strong", "em", "b", "i", "u", "ul", "ol", "li", "blockquote"}
)
SUMMARY_ATTRIBUTES = {"a": ["href", "rel"], "span": ["class"]}
MAX_SUMMARY_INPUT = 20_000

FetcherFactory = Callable[[], Fetcher]
"""Builds the fetcher on first use; called in a worker thread, so it may use the database."""


class RemoteActorError(Exception):
    """A remote actor or key cannot be used; ``reason`` is stable, ``str()`` is for logs."""

    reason = "error"


class LocalUri(RemoteActorError):
    reason = "local"


class DomainBlocked(RemoteActorError):
    reason = "blocked"


class ActorGone(RemoteActorError):
    reason = "gone"


class InvalidActor(RemoteActorError):
    reason = "invalid"


class FetchFailed(RemoteActorError):
    """The fetch failed: ``error`` is the fetcher's, ``retryable`` whether to try again later."""

    def __init__(self, message: str, error: RemoteError) -> None:
        super().__init__(message)
        self.error = error
        self.reason = error.reason
        self.retryable = retryable(error)


# --- origins, domains, blocks --------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _candidates(domain: str) -> tuple[str, ...]:
    host = urlsplit(f"//{domain}").hostname or domain
    labels = host.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels) - 1)] if not host[-1:].isdigit() else [host]
    return tuple(dict.fromkeys([domain, host, *parents]))


def block_candidates(domain: str) -> list[str]:
    """The block entries that cover ``domain`` (``host[:port]``): itself, its host, parent domains."""
    return list(_candidates(domain.lower()))


def covers(block: str, domain: str) -> bool:
    """Whether a block of ``block`` covers ``domain`` (see :func:`block_candidates`)."""
    return block in _candidates(domain.lower())


def covered_domains(column: Mapped[str] | ColumnElement[str], block: str) -> ColumnElement[bool]:
    """The SQL condition on a column of domains (``host[:port]``) that a block of ``block`` covers: the
    same rule as :func:`covers` — itself, and without a port in the block, every port and (for a name,
    not an address) every subdomain."""
    escaped = block.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conditions = [column == block]
    host = block.rpartition(":")[0] if block.rpartition(":")[2].isdigit() else block
    if host == block:
        conditions.append(column.like(escaped + ":%", escape="\\"))
        if not host[-1:].isdigit() and not host.startswith("["):
            conditions.append(column.like("%." + escaped, escape="\\"))
            conditions.append(column.like("%." + escaped + ":%", escape="\\"))
    return or_(*conditions)


def domain_blocked(connection: Connection | Session, domain: str) -> bool:
    """Whether ``domain`` is blocked, directly or through its host or a parent domain."""
    query = select(DomainBlock.id).where(col(DomainBlock.domain).in_(block_candidates(domain))).limit(1)
    return connection.execute(query).first() is not None


# --- documents -------------------------------------------------------------------------------------


def _text(value: object, limit: int) -> str:
    """A string field, cut, without control characters or lone surrogates (the database refuses them)."""
    if not isinstance(value, str):
        return ""
    text = value[:limit].encode("utf-8", "replace").decode("utf-8")
    return "".join(char for char in text if char >= " " or char in "\t\n")


def plain_text(value: object, limit: int) -> str:
    """Text without markup: tags stripped, entities decoded, whitespace collapsed, then cut."""
    cleaned = bleach.clean(_text(value, MAX_SUMMARY_INPUT), tags=set(), strip=True)
    return " ".join(html.unescape(cleaned).split())[:limit]


def clean_summary(value: object) -> str:
    """An actor's summary as safe HTML: a few inline and block tags, http(s) links only."""
    return bleach.clean(
        _text(value, MAX_SUMMARY_INPUT),
        tags=SUMMARY_TAGS,
        attributes=SUMMARY_ATTRIBUTES,
        protocols={"http", "https"},
        strip=True,
    )


def _own(value: str | None, uri: str) -> str | None:
    """``value`` when it is a storable URI of ``uri``'s origin, else None."""
    return value if value is not None and storable_uri(value) and same_origin(value, uri) else None


def _link(value: str | None) -> str | None:
    return value if value is not None and storable_uri(value) else None


@dataclass(frozen=True)
class ActorDocument:
    """The fields of an actor document we keep, validated and sanitised."""

    uri: str
    type: str
    inbox: str
    shared_inbox: str | None
    outbox: str | None
    followers: str | None
    preferred_username: str
    name: str
    summary: str
    url: str | None
    icon_url: str | None
    manually_approves: bool
    key_id: str | None
    public_key_pem: str | None
    raw: str = "{}"


def parse_actor(document: dict[str, Any], uri: str) -> ActorDocument:
    """Validate and sanitise an actor document fetched from ``uri``; raises :class:`InvalidActor`.

    Read with :func:`node.activitypub.vocab.parse_actor`, then: the id is ``uri``, the inbox has its
    origin, and a published key is owned by the actor and has its origin. Collections and the shared
    inbox of another origin are dropped; text is sanitised.
    """
    try:
        actor = vocab.parse_actor(document)
    except vocab.VocabError as exc:
        raise InvalidActor(f"{uri} is not a usable actor: {exc}") from exc
    if actor.id != uri:
        raise InvalidActor(f"{uri} served the document of {actor.id!r}")
    inbox = _own(actor.inbox, uri)
    if inbox is None:
        raise InvalidActor(f"{uri} has no inbox of its origin")
    key = actor.public_key
    if key is None and document.get("publicKey") is not None:
        raise InvalidActor(f"{uri} publishes no key of its own")
    if key is not None and (_own(key.id, uri) is None or len(key.pem) > 20_000):
        raise InvalidActor(f"{uri} publishes a key of another origin or an oversized key")
    return ActorDocument(
        uri=uri,
        type=actor.type,
        inbox=inbox,
        shared_inbox=_own(actor.shared_inbox, uri),
        outbox=_own(actor.outbox, uri),
        followers=_own(actor.followers, uri),
        preferred_username=plain_text(actor.preferred_username, 255),
        name=plain_text(actor.name, 500),
        summary=clean_summary(actor.summary),
        url=_link(actor.url),
        icon_url=_link(actor.icon_url),
        manually_approves=actor.manually_approves_followers,
        key_id=key.id if key else None,
        public_key_pem=key.pem if key else None,
        raw=json.dumps(document, separators=(",", ":")),
    )


def _load_key(key_id: str, pem: str, owner: str) -> VerificationKey:
    public: PublicKey = load_public_key_pem(pem)
    return VerificationKey(public, key_id, owner=owner)


# --- the cache -------------------------------------------------------------------------------------


def node_fetcher_factory(settings: Settings, engine: Engine) -> FetcherFactory:
    """Fetchers signed by the node actor (for servers that require authorized fetch)."""

    def build() -> Fetcher:
        with session_scope(engine, write=True) as session:
            auth = local.signer(settings, local.node_actor(settings), session=session)
        return Fetcher.from_settings(settings, auth, timeout=settings.fetch_timeout_seconds)

    return build


@dataclass(frozen=True)
class _CachedKey:
    key: VerificationKey
    checked_at: float  # time.monotonic() of the last load from the database or the origin
    refreshed_at: float  # time.monotonic() of the last forced refetch (0 when none)


class RemoteActors:
    """Remote actors and keys: fetched from their origin, validated, stored, cached.

    ``fresh_for`` is how long a stored actor is used without refetching; ``memory_for`` how long a
    key stays in memory before the database is asked again; ``refetch_interval`` the least time
    between two forced refetches of the same key (a first one is always allowed, for key rotation;
    more would let bad signatures make us hammer a server). Use from one event loop; call
    :meth:`aclose` at shutdown.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        fetcher_factory: FetcherFactory | None = None,
        *,
        fresh_for: timedelta = timedelta(days=1),
        memory_for: float = 300.0,
        refetch_interval: float = 30.0,
        cache_size: int = 10_000,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.fresh_for = fresh_for
        self.memory_for = memory_for
        self.refetch_interval = refetch_interval
        self.cache_size = cache_size
        self._factory = fetcher_factory or node_fetcher_factory(settings, engine)
        self._fetcher: Fetcher | None = None
        self._keys: OrderedDict[str, _CachedKey] = OrderedDict()
        self._inflight: dict[tuple[str, str, bool], asyncio.Future[Any]] = {}

    async def fetcher(self) -> Fetcher:
        """The fetcher, built on first use."""
        if self._fetcher is None:
            fetcher = await anyio.to_thread.run_sync(self._factory)
            if self._fetcher is None:
                self._fetcher = fetcher
            else:
                await fetcher.aclose()
        return self._fetcher

    async def aclose(self) -> None:
        """Close the fetcher's connections."""
        if self._fetcher is not None:
            fetcher, self._fetcher = self._fetcher, None
            await fetcher.aclose()

    # -- public API

    async def get_actor(self, uri: str, *, refresh: bool = False) -> RemoteActor:
        """The actor at ``uri``: from the cache when fresh, else fetched, validated and stored."""
        self._check_remote(uri)
        row, blocked = await anyio.to_thread.run_sync(self._stored_actor, uri)
        if blocked:
            raise DomainBlocked(f"{addressing.domain_of(uri)} is blocked")
        if row is not None and not refresh:
            if row.gone_at is not None:
                raise ActorGone(f"{uri} is gone")
            if utcnow() - row.fetched_at < self.fresh_for:
                return row
        return await self._single_flight(("actor", uri, refresh), lambda: self._fetch_actor(uri))

    async def key_for(self, key_id: str, *, refresh: bool = False) -> VerificationKey:
        """The public key ``key_id``, with its owner; ``refresh`` refetches it (key rotation)."""
        self._check_remote(key_id)
        cached = self._keys.get(key_id)
        now = time.monotonic()
        if cached is not None:
            if refresh and now - cached.refreshed_at < self.refetch_interval:
                return cached.key  # refetched moments ago: another refetch would give the same key
            if not refresh and now - cached.checked_at < self.memory_for:
                self._keys.move_to_end(key_id)
                return cached.key
        return await self._single_flight(("key", key_id, refresh), lambda: self._load_key(key_id, refresh))

    async def inbox_for(self, actor_uri: str) -> str:
        """Where to deliver to ``actor_uri``: its shared inbox when it has one, else its inbox."""
        actor = await self.get_actor(actor_uri)
        return actor.shared_inbox or actor.inbox

    async def fetch_document(self, uri: str) -> dict[str, Any]:
        """Any ActivityStreams object from its origin (signed fetch); its ``id`` must be ``uri``'s origin."""
        self._check_remote(uri)
        if await anyio.to_thread.run_sync(self._is_blocked, addressing.domain_of(uri)):
            raise DomainBlocked(f"{addressing.domain_of(uri)} is blocked")
        fetched = await self._fetch(uri)
        if not same_origin(str(fetched["id"]), uri):
            raise InvalidActor(f"{uri} redirected to an object of another origin")
        return fetched

    async def forget(self, uri: str) -> None:
        """Drop what we hold of the actor ``uri`` (its row and its keys)."""
        self._drop_keys(uri)
        await anyio.to_thread.run_sync(self._delete_actor, uri)

    async def mark_gone(self, uri: str) -> None:
        """Record that the actor ``uri`` answered 410 Gone; its keys are no longer used."""
        self._drop_keys(uri)
        await anyio.to_thread.run_sync(self._mark_gone, uri)

    # -- fetching

    def _check_remote(self, uri: str) -> None:
        origin = origin_of(uri) if storable_uri(uri) else None
        if origin is None:
            raise InvalidActor(f"not a usable http(s) URI: {uri[:200]!r}")
        if origin == origin_of(self.settings.base_url):
            raise LocalUri(f"{uri} is one of ours")

    async def _single_flight(self, key: tuple[str, str, bool], work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` once for concurrent callers with the same ``key``."""
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(work())
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._inflight[key] = pending
            pending.add_done_callback(lambda done: self._inflight.pop(key, None))
        result: T = await asyncio.shield(pending)
        return result

    async def _fetch(self, uri: str) -> dict[str, Any]:
        fetcher = await self.fetcher()
        try:
            return (await fetcher.get_activity(uri.partition("#")[0])).document
        except Gone as exc:
            await self.mark_gone(uri.partition("#")[0])
            raise ActorGone(f"{uri} is gone") from exc
        except RemoteError as exc:
            raise FetchFailed(f"cannot fetch {uri}: {exc}", exc) from exc

    async def _fetch_actor(self, uri: str, document: dict[str, Any] | None = None) -> RemoteActor:
        if document is None:
            document = await self._fetch(uri)
        actor = parse_actor(document, uri)
        row, icon_changed = await anyio.to_thread.run_sync(self._store_actor, actor)
        if row.icon_url and icon_changed:
            digest = await icons.fetch_icon(await self.fetcher(), self.settings, row.icon_url)
            if digest is not None:
                await anyio.to_thread.run_sync(icons.remember, self.engine, row.uri, row.icon_url, digest)
                row.avatar = digest
        return row

    async def _load_key(self, key_id: str, refresh: bool) -> VerificationKey:
        stale: VerificationKey | None = None
        if not refresh:
            found = await anyio.to_thread.run_sync(self._stored_key, key_id)
            if found is not None:
                key, fresh = found
                if fresh:
                    return self._remember(key)
                stale = key
        try:
            return await self._fetch_key(key_id, refresh)
        except FetchFailed as exc:
            if stale is not None and exc.retryable:
                log.info("using the stored key %s: %s", key_id, exc)
                return self._remember(stale)
            raise

    async def _fetch_key(self, key_id: str, forced: bool) -> VerificationKey:
        url = key_id.partition("#")[0]
        document = await self._fetch(url)
        owner, document_id = document.get("owner"), document.get("id")
        if document.get("type") in vocab.ACTOR_TYPES and document_id == url:
            actor = await self._fetch_actor(url, document)
        elif isinstance(owner, str) and document_id == key_id:
            # A standalone key document: its owner must list it back.
            actor = await self.get_actor(owner)
            if actor.key_id != key_id:
                actor = await self.get_actor(owner, refresh=True)
        elif document.get("type") in vocab.ACTOR_TYPES and isinstance(document_id, str):
            # GoToSocial-like: the key's own URL serves a stub of the actor; fetch the actor itself.
            actor = await self._single_flight(
                ("actor", document_id, True), lambda: self._fetch_actor(document_id)
            )
        else:
            raise InvalidActor(f"{key_id} is neither a key nor an actor")
        if actor.key_id != key_id or actor.public_key_pem is None:
            raise InvalidActor(f"{actor.uri} does not publish the key {key_id}")
        try:
            key = _load_key(key_id, actor.public_key_pem, actor.uri)
        except UnusableKey as exc:
            raise InvalidActor(f"{key_id}: {exc}") from exc
        return self._remember(key, forced=forced)

    def _remember(self, key: VerificationKey, *, forced: bool = False) -> VerificationKey:
        now = time.monotonic()
        previous = self._keys.get(key.key_id)
        refreshed_at = now if forced else (previous.refreshed_at if previous else 0.0)
        self._keys[key.key_id] = _CachedKey(key, now, refreshed_at)
        self._keys.move_to_end(key.key_id)
        while len(self._keys) > self.cache_size:
            self._keys.popitem(last=False)
        return key

    def _drop_keys(self, owner: str) -> None:
        for key_id in [k for k, cached in self._keys.items() if cached.key.owner == owner]:
            del self._keys[key_id]

    # -- storage (run in worker threads)

    def _is_blocked(self, domain: str) -> bool:
        with self.engine.connect() as connection:
            return domain_blocked(connection, domain)

    def _stored_actor(self, uri: str) -> tuple[RemoteActor | None, bool]:
        with session_scope(self.engine) as session:
            if domain_blocked(session, addressing.domain_of(uri)):
                return None, True
            return session.exec(select(RemoteActor).where(col(RemoteActor.uri) == uri)).first(), False

    def _stored_key(self, key_id: str) -> tuple[VerificationKey, bool] | None:
        with session_scope(self.engine) as session:
            if domain_blocked(session, addressing.domain_of(key_id)):
                raise DomainBlocked(f"{addressing.domain_of(key_id)} is blocked")
            row = session.exec(
                select(RemoteActor).where(
                    col(RemoteActor.key_id) == key_id, col(RemoteActor.gone_at).is_(None)
                )
            ).first()
        if row is None or row.public_key_pem is None:
            return None
        try:
            key = _load_key(key_id, row.public_key_pem, row.uri)
        except UnusableKey:
            return None
        return key, utcnow() - row.fetched_at < self.fresh_for

    def _store_actor(self, actor: ActorDocument) -> tuple[RemoteActor, bool]:
        """The stored row, and whether its ``icon`` is new (our copy of the old one is dropped)."""
        domain = addressing.domain_of(actor.uri)
        values: dict[str, Any] = {
            "type": actor.type,
            "domain": domain,
            "inbox": actor.inbox,
            "shared_inbox": actor.shared_inbox,
            "outbox": actor.outbox,
            "followers": actor.followers,
            "preferred_username": actor.preferred_username,
            "name": actor.name,
            "summary": actor.summary,
            "url": actor.url,
            "icon_url": actor.icon_url,
            "key_id": actor.key_id,
            "public_key_pem": actor.public_key_pem,
            "manually_approves": actor.manually_approves,
            "raw": actor.raw,
            "fetched_at": utcnow(),
            "gone_at": None,
        }
        for attempt in range(3):  # two writers may insert the same actor or peer at once
            try:
                with session_scope(self.engine, write=True) as session:
                    if domain_blocked(session, domain):
                        raise DomainBlocked(f"{domain} is blocked")
                    row = session.exec(select(RemoteActor).where(col(RemoteActor.uri) == actor.uri)).first()
                    changed = row is None or row.icon_url != actor.icon_url
                    if row is None:
                        row = RemoteActor(uri=actor.uri, **values)
                    else:
                        if changed:
                            row.avatar = None
                        for name, value in values.items():
                            setattr(row, name, value)
                    session.add(row)
                    _touch_peer(domain, session=session)
                    session.flush()
                    return row, changed
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _delete_actor(self, uri: str) -> None:
        with session_scope(self.engine, write=True) as session:
            forget_actor(uri, session=session)

    def _mark_gone(self, uri: str) -> None:
        with session_scope(self.engine, write=True) as session:
            session.execute(update(RemoteActor).where(col(RemoteActor.uri) == uri).values(gone_at=utcnow()))


def forget_actor(uri: str, *, session: Session) -> None:
    """Drop the cached actor ``uri`` (its keys go with it)."""
    session.execute(delete(RemoteActor).where(col(RemoteActor.uri) == uri))


def is_known(uri: str, *, session: Session) -> bool:
    """Whether ``uri`` is an actor this node has cached (and not gone)."""
    query = select(RemoteActor.id).where(col(RemoteActor.uri) == uri, col(RemoteActor.gone_at).is_(None))
    return session.exec(query).first() is not None


def peer_software(domain: str, *, session: Session) -> str | None:
    """What ``domain``'s NodeInfo said it runs (empty when it said nothing usable), None if never asked."""
    return session.exec(select(Peer.software).where(col(Peer.domain) == domain)).first()


def known_actor_uri(username: str, host: str, *, session: Session) -> str | None:
    """The URI of ``username@host`` among the actors this node has cached (and not gone)."""
    return session.exec(
        select(RemoteActor.uri).where(
            func.lower(col(RemoteActor.preferred_username)) == username.lower(),
            col(RemoteActor.domain) == host.lower(),
            col(RemoteActor.gone_at).is_(None),
        )
    ).first()


def _touch_peer(domain: str, *, session: Session) -> None:
    """Record a success with the server ``domain``, creating its peer row on first contact."""
    peer = session.exec(select(Peer).where(col(Peer.domain) == domain)).first()
    now = utcnow()
    if peer is None:
        session.add(Peer(domain=domain, last_success_at=now))
        return
    peer.last_success_at = now
    peer.state = PEER_LIFECYCLE.step(peer.state, PeerState.OK).value
    session.add(peer)
