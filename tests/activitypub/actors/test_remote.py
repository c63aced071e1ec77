"""The remote-actor cache against a real actor server on loopback: validation, sanitising, storage,
keys (Mastodon ``#main-key``, standalone key documents, stubs), rotation, blocks, gone actors."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from PIL import Image
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from node.activitypub.actors.remote import (
    ActorGone,
    DomainBlocked,
    FetchFailed,
    InvalidActor,
    LocalUri,
    RemoteActors,
    clean_summary,
    parse_actor,
    plain_text,
)
from node.activitypub.addressing import same_origin
from node.activitypub.models import DomainBlock, Peer, RemoteActor
from node.activitypub.signatures import public_pem
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.actors import (
    AS_TYPE,
    ActorServer,
    RemoteTestActor,
    Reply,
    actor_on,
    actor_server_fixture,  # noqa: F401 - a fixture used by name
    fixed_key,
    loopback_settings_fixture,  # noqa: F401 - a fixture used by name
)

T = TypeVar("T")
ACTOR = "https://social.example/users/a"
OTHER_KEY = ACTOR + "#k"


def run(factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await factory()

    return asyncio.run(main())


# --- fixtures ----------------------------------------------------------------------------------------


def with_remote(
    settings: Settings, engine: Engine, work: Callable[[RemoteActors], Awaitable[T]], **options: Any
) -> T:
    async def main() -> T:
        remote = RemoteActors(settings, engine, **options)
        try:
            return await work(remote)
        finally:
            await remote.aclose()

    return asyncio.run(main())


def stored(engine: Engine, uri: str) -> RemoteActor | None:
    with Session(engine) as session:
        return session.exec(select(RemoteActor).where(col(RemoteActor.uri) == uri)).first()


# --- documents ---------------------------------------------------------------------------------------


def test_parse_actor_keeps_what_we_need_and_sanitises_text() -> None:
    uri = "https://social.example/users/amina"
    document = {
        "id": uri,
        "type": "Person",
        "preferredUsername": "amina<b>",
        "name": "<script>alert(1)</script>Amina &amp; <em>co</em>",
        "summary": '<p>Hi <a href="https://x.example/" onclick="evil()">site</a><script>x()</script>'
        '<a href="javascript:alert(1)">bad</a></p>',
        "inbox": uri + "/inbox",
        "endpoints": {"sharedInbox": "https://other.example/inbox"},
        "icon": {"type": "Image", "url": "https://social.example/a.png"},
        "manuallyApprovesFollowers": True,
        "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": "PEM"},
    }
    actor = parse_actor(document, uri)
    assert actor.name == "alert(1)Amina & co"
    assert actor.preferred_username == "amina"
    assert "<script>" not in actor.summary and "onclick" not in actor.summary
    assert "javascript:" not in actor.summary
    assert '<a href="https://x.example/">site</a>' in actor.summary
    assert actor.shared_inbox is None  # of another origin: not used
    assert actor.icon_url == "https://social.example/a.png"
    assert actor.manually_approves is True
    assert (actor.key_id, actor.public_key_pem) == (uri + "#main-key", "PEM")


def test_text_helpers() -> None:
    assert plain_text("a\x00b  <i>c</i>\ud800", 10) == "ab c?"
    assert clean_summary(42) == ""
    assert same_origin("https://a.example/x", "https://A.example:443/y")
    assert not same_origin("https://a.example/x", "http://a.example/x")
    assert not same_origin("mailto:x@a.example", "mailto:x@a.example")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": "https://social.example/users/other"}, "served the document of"),
        ({"type": "Note"}, "not a usable actor"),
        ({"inbox": "https://elsewhere.example/inbox"}, "no inbox of its origin"),
        ({"inbox": None}, "not a usable actor"),
        (
            {"publicKey": {"id": OTHER_KEY, "owner": "https://social.example/users/b", "publicKeyPem": "P"}},
            "no key",
        ),
        (
            {"publicKey": {"id": "https://evil.example/k", "owner": ACTOR, "publicKeyPem": "P"}},
            "another origin",
        ),
        ({"publicKey": "https://social.example/users/a#k"}, "no key of its own"),
        ({"publicKey": {"id": OTHER_KEY, "owner": ACTOR}}, "no key of its own"),
        ({"publicKey": {"id": OTHER_KEY, "owner": ACTOR, "publicKeyPem": "P" * 30_000}}, "oversized"),
    ],
)
def test_parse_actor_refuses(change: dict[str, Any], problem: str) -> None:
    uri = ACTOR
    document = {"id": uri, "type": "Person", "inbox": uri + "/inbox", **change}
    with pytest.raises(InvalidActor, match=problem):
        parse_actor(document, uri)


# --- fetching and caching ----------------------------------------------------------------------------


def test_get_actor_fetches_stores_and_caches(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> tuple[RemoteActor, RemoteActor, str]:
        first = await remote.get_actor(amina.uri)
        second = await remote.get_actor(amina.uri)
        return first, second, await remote.inbox_for(amina.uri)

    first, second, inbox = with_remote(loopback_settings, engine, work)
    assert first.uri == second.uri == amina.uri and first.name == "Amina"
    assert inbox == actor_server.url("/inbox")  # the shared inbox is preferred
    assert actor_server.hits(amina.path) == 1
    # The fetch was signed by the node actor, for servers that require authorized fetch.
    signature = actor_server.requests[0][1]["signature"]
    assert 'keyId="http://testserver/actor#main-key"' in signature
    row = stored(engine, amina.uri)
    assert row is not None and row.key_id == amina.key_id and row.domain == f"127.0.0.1:{actor_server.port}"
    with Session(engine) as session:
        peer = session.exec(select(Peer).where(col(Peer.domain) == row.domain)).one()
        assert peer.last_success_at is not None


def test_get_actor_refreshes_when_asked_or_stale(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> RemoteActor:
        await remote.get_actor(amina.uri)
        amina.publish(name="Amina B.", endpoints={})
        return await remote.get_actor(amina.uri, refresh=True)

    refreshed = with_remote(loopback_settings, engine, work)
    assert refreshed.name == "Amina B." and refreshed.shared_inbox is None
    assert with_remote(loopback_settings, engine, lambda r: r.inbox_for(amina.uri)) == amina.uri + "/inbox"
    with session_scope(engine) as session:
        row = session.exec(select(RemoteActor).where(col(RemoteActor.uri) == amina.uri)).one()
        row.fetched_at = utcnow() - timedelta(days=2)
        session.add(row)
    with_remote(loopback_settings, engine, lambda r: r.get_actor(amina.uri))
    assert actor_server.hits(amina.path) == 3
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(RemoteActor)).one() == 1


def _png_with_exif() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (300, 200), (200, 40, 40)).save(out, format="PNG", exif=exif)
    return out.getvalue()


def test_the_icon_is_copied_once_safely_and_dropped_when_it_changes(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    actor_server.routes["/amina.png"] = Reply(body=_png_with_exif(), content_type="image/png")
    actor_server.routes["/fake.png"] = Reply(body=b"<html>not a picture</html>", content_type="image/png")
    actor_server.routes["/page.html"] = Reply(body=b"<html></html>", content_type="text/html")
    amina.publish(icon={"type": "Image", "mediaType": "image/png", "url": actor_server.url("/amina.png")})

    row = with_remote(loopback_settings, engine, lambda r: r.get_actor(amina.uri))
    assert row.avatar is not None and stored(engine, amina.uri).avatar == row.avatar  # type: ignore[union-attr]
    copy = loopback_settings.data_dir / "avatars" / f"{row.avatar}.jpg"
    with Image.open(copy) as picture:
        assert picture.format == "JPEG" and picture.size == (256, 256)
    assert b"PhoneMaker" not in copy.read_bytes()
    with_remote(loopback_settings, engine, lambda r: r.get_actor(amina.uri, refresh=True))
    assert actor_server.hits("/amina.png") == 1  # the same icon is not fetched again

    for path in ("/fake.png", "/page.html", "/missing.png"):  # not a picture, not one by type, absent
        amina.publish(icon={"type": "Image", "url": actor_server.url(path)})
        refreshed = with_remote(loopback_settings, engine, lambda r: r.get_actor(amina.uri, refresh=True))
        assert refreshed.avatar is None and stored(engine, amina.uri).avatar is None  # type: ignore[union-attr]
        assert refreshed.name == "Amina"  # the actor itself is still usable


def test_refusals(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")
    actor_server.serve_json("/users/liar", amina.document())  # serves someone else's document

    async def outcome(uri: str) -> str:
        remote = RemoteActors(loopback_settings, engine)
        try:
            await remote.get_actor(uri)
            return "ok"
        except (InvalidActor, LocalUri, DomainBlocked, FetchFailed, ActorGone) as exc:
            return exc.reason
        finally:
            await remote.aclose()

    assert asyncio.run(outcome("http://testserver/users/me")) == "local"
    assert asyncio.run(outcome(actor_server.url("/users/liar"))) == "invalid"
    assert asyncio.run(outcome(actor_server.url("/users/nobody"))) == "not_found"
    assert asyncio.run(outcome("ftp://example.org/x")) == "invalid"
    with session_scope(engine) as session:
        session.add(DomainBlock(domain="127.0.0.1"))
    assert asyncio.run(outcome(amina.uri)) == "blocked"
    assert actor_server.hits(amina.path) == 0
    assert stored(engine, actor_server.url("/users/liar")) is None


def test_private_addresses_refused_unless_allowed(
    actor_server: ActorServer, settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    with pytest.raises(FetchFailed) as caught:
        with_remote(settings, engine, lambda r: r.get_actor(amina.uri))
    assert caught.value.reason == "private_address" and not caught.value.retryable
    assert actor_server.hits(amina.path) == 0


def test_gone_actor_is_marked_and_its_keys_dropped(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> None:
        await remote.key_for(amina.key_id)
        actor_server.routes[amina.path] = Reply(410, b"{}")
        with pytest.raises(ActorGone):
            await remote.get_actor(amina.uri, refresh=True)
        with pytest.raises(ActorGone):
            await remote.get_actor(amina.uri)  # remembered, not fetched again
        with pytest.raises(ActorGone):
            await remote.key_for(amina.key_id)

    with_remote(loopback_settings, engine, work)
    row = stored(engine, amina.uri)
    assert row is not None and row.gone_at is not None
    assert actor_server.hits(amina.path) == 3  # key, refresh, then the key again (no stored key left)


def test_forget_and_mark_gone(actor_server: ActorServer, loopback_settings: Settings, engine: Engine) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> None:
        await remote.get_actor(amina.uri)
        await remote.mark_gone(amina.uri)
        with pytest.raises(ActorGone):
            await remote.get_actor(amina.uri)
        await remote.forget(amina.uri)

    with_remote(loopback_settings, engine, work)
    assert stored(engine, amina.uri) is None


# --- keys --------------------------------------------------------------------------------------------


def test_key_of_a_mastodon_actor_is_cached_in_memory_and_in_the_database(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> None:
        key = await remote.key_for(amina.key_id)
        assert key.owner == amina.uri and key.key_id == amina.key_id
        assert public_pem(key.key) == public_pem(amina.key)  # type: ignore[arg-type]
        await remote.key_for(amina.key_id)

    with_remote(loopback_settings, engine, work)
    assert actor_server.hits(amina.path) == 1
    with_remote(loopback_settings, engine, lambda r: r.key_for(amina.key_id))  # a new process: from the table
    assert actor_server.hits(amina.path) == 1


def test_concurrent_lookups_fetch_once(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> None:
        keys = await asyncio.gather(*(remote.key_for(amina.key_id) for _ in range(10)))
        assert {key.owner for key in keys} == {amina.uri}

    with_remote(loopback_settings, engine, work)
    assert actor_server.hits(amina.path) == 1


def test_key_rotation_refetches_at_most_once_per_interval(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")

    async def work(remote: RemoteActors) -> None:
        await remote.key_for(amina.key_id)
        amina.key = fixed_key(1)
        amina.publish()
        new = await remote.key_for(amina.key_id, refresh=True)  # the first forced refetch: allowed
        assert public_pem(new.key) == public_pem(fixed_key(1))  # type: ignore[arg-type]
        amina.key = fixed_key(2)
        amina.publish()
        same = await remote.key_for(amina.key_id, refresh=True)  # refetched moments ago: not again
        assert same is new
        remote.refetch_interval = 0
        newer = await remote.key_for(amina.key_id, refresh=True)
        assert public_pem(newer.key) == public_pem(fixed_key(2))  # type: ignore[arg-type]

    with_remote(loopback_settings, engine, work)
    assert actor_server.hits(amina.path) == 3


def test_standalone_key_document_must_be_listed_by_its_owner(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = RemoteTestActor(actor_server, "amina", fixed_key(0))
    key_id = actor_server.url("/keys/amina")
    amina.publish(publicKey={"id": key_id, "owner": amina.uri, "publicKeyPem": public_pem(amina.key)})
    actor_server.serve_json(
        "/keys/amina", {"id": key_id, "owner": amina.uri, "publicKeyPem": public_pem(amina.key)}
    )
    # A key document naming amina as owner, which amina does not list: refused.
    forged = actor_server.url("/keys/forged")
    actor_server.serve_json(
        "/keys/forged", {"id": forged, "owner": amina.uri, "publicKeyPem": public_pem(fixed_key(2))}
    )

    async def work(remote: RemoteActors) -> None:
        key = await remote.key_for(key_id)
        assert key.owner == amina.uri
        with pytest.raises(InvalidActor, match="does not publish"):
            await remote.key_for(forged)

    with_remote(loopback_settings, engine, work)


def test_key_served_by_a_stub_of_the_actor(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    # GoToSocial-like: the key id has its own path, which serves a stub of the actor.
    amina = RemoteTestActor(actor_server, "amina", fixed_key(0))
    key_id = amina.uri + "/main-key"
    public_key = {"id": key_id, "owner": amina.uri, "publicKeyPem": public_pem(amina.key)}
    amina.publish(publicKey=public_key)
    actor_server.serve_json(
        amina.path + "/main-key", {"id": amina.uri, "type": "Person", "publicKey": public_key}
    )
    key = with_remote(loopback_settings, engine, lambda r: r.key_for(key_id))
    assert key.owner == amina.uri
    assert actor_server.hits(amina.path) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html>hello</html>", content_type="text/html"),
        Reply(200, b"{not json", content_type=AS_TYPE),
        Reply(200, b"[1, 2]", content_type=AS_TYPE),
        Reply(302, b"", headers={"Location": "/users/loop"}),
        Reply(500, b"oops"),
    ],
    ids=["html", "garbage", "not-an-object", "redirect-loop", "server-error"],
)
def test_unusable_key_servers(
    reply: Reply, actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    actor_server.routes["/users/loop"] = reply
    with pytest.raises(FetchFailed):
        with_remote(loopback_settings, engine, lambda r: r.key_for(actor_server.url("/users/loop#main-key")))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(RemoteActor)).one() == 0


def test_slow_key_server_times_out(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    actor_server.routes["/users/slow"] = Reply(200, b"{}", delay=30)
    settings = loopback_settings.replace(fetch_timeout_seconds=1)
    with pytest.raises(FetchFailed) as caught:
        with_remote(settings, engine, lambda r: r.key_for(actor_server.url("/users/slow#main-key")))
    assert caught.value.retryable and caught.value.reason == "timeout"


def test_stale_stored_key_is_used_when_its_server_is_down(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    with_remote(loopback_settings, engine, lambda r: r.key_for(amina.key_id))
    with session_scope(engine) as session:
        row = session.exec(select(RemoteActor).where(col(RemoteActor.uri) == amina.uri)).one()
        row.fetched_at = utcnow() - timedelta(days=3)
        session.add(row)
    actor_server.routes[amina.path] = Reply(503, b"down")
    key = with_remote(loopback_settings, engine, lambda r: r.key_for(amina.key_id))
    assert key.owner == amina.uri
    assert actor_server.hits(amina.path) == 2


def test_blocked_key_domain_is_refused_without_fetching(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    amina = actor_on(actor_server, "amina")
    with_remote(loopback_settings, engine, lambda r: r.key_for(amina.key_id))
    with session_scope(engine) as session:
        session.add(DomainBlock(domain=f"127.0.0.1:{actor_server.port}"))
    with pytest.raises(DomainBlocked):
        with_remote(loopback_settings, engine, lambda r: r.key_for(amina.key_id))
    with pytest.raises(DomainBlocked):
        with_remote(loopback_settings, engine, lambda r: r.fetch_document(amina.uri))
    assert actor_server.hits(amina.path) == 1
