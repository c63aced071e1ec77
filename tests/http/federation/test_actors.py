"""Our actors and collections over HTTP: document shapes, content negotiation, paging, secure mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.accounts.models import AccountStatus, User
from node.activitypub import keys
from node.activitypub.actors import documents as actors
from node.activitypub.models import Follow, FollowState, OutboxActivity
from node.activitypub.signatures import (
    VerificationKey,
    load_public_key_pem,
    public_pem,
    sign_cavage,
    sign_rfc9421,
)
from node.activitypub.transport.fetch import Unavailable
from node.activitypub.vocab import parse_actor, parse_collection
from node.app import create_app
from node.core import db
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.actors import FakeKeyLookup

AS = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
BASE = "http://testserver"
AMINA = f"{BASE}/users/amina"


def get_as(client: TestClient, path: str, accept: str = AS) -> Any:
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/activity+json; charset=utf-8"
    return response.json()


def update_user(engine: Engine, username: str, **fields: Any) -> None:
    with db.session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        for name, value in fields.items():
            setattr(user, name, value)
        session.add(user)


def add_follow(engine: Engine, follower: str, followee: str, state: FollowState, n: int) -> None:
    with db.session_scope(engine) as session:
        session.add(
            Follow(
                follower_uri=follower,
                followee_uri=followee,
                activity_id=f"https://remote.example/follows/{n}-{follower[-12:]}-{followee[-12:]}",
                state=state.value,
            )
        )


def add_outbox(engine: Engine, actor_uri: str, n: int, *, public: bool = True) -> str:
    activity_id = f"{actor_uri}/activities/{n}-{'p' if public else 'd'}"
    payload = {"id": activity_id, "type": "Create", "actor": actor_uri, "object": f"{activity_id}/object"}
    with db.session_scope(engine) as session:
        session.add(
            OutboxActivity(
                activity_id=activity_id,
                actor_uri=actor_uri,
                type="Create",
                payload=json.dumps(payload),
                public=public,
                created_at=utcnow() - timedelta(days=1) + timedelta(seconds=n),
            )
        )
    return activity_id


# --- actor documents ----------------------------------------------------------------------------


def test_person_document(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    update_user(engine, "amina", display_name="Amina K.", bio="Repassage <b>soigné</b>\n& courses\n\nLe soir")
    doc = get_as(client, "/users/amina")
    context = doc["@context"]
    assert context[:2] == ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    assert context[2] == {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "asasap": "https://w3id.org/asasap/ns#",
        "evaluations": {"@id": "asasap:evaluations", "@type": "@id"},
    }
    assert len(context) == 3
    assert doc["evaluations"] == AMINA + "/evaluations"
    assert doc["id"] == AMINA and doc["type"] == "Person" and doc["preferredUsername"] == "amina"
    assert doc["name"] == "Amina K."
    assert doc["summary"] == "<p>Repassage &lt;b&gt;soigné&lt;/b&gt;<br>&amp; courses</p><p>Le soir</p>"
    assert doc["url"] == AMINA
    assert doc["inbox"] == AMINA + "/inbox" and doc["outbox"] == AMINA + "/outbox"
    assert doc["followers"] == AMINA + "/followers" and doc["following"] == AMINA + "/following"
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["publicKey"]["id"] == AMINA + "#main-key" and doc["publicKey"]["owner"] == AMINA
    assert doc["manuallyApprovesFollowers"] is False and doc["discoverable"] is True
    assert doc["published"].endswith("Z")
    assert "icon" not in doc
    # What we publish, our own typed reader reads back.
    assert parse_actor(doc).public_key is not None


def test_name_falls_back_to_the_username_and_empty_bio(client: TestClient, engine: Engine) -> None:
    make_user(engine, "bruno")
    doc = get_as(client, "/users/bruno")
    assert doc["name"] == "bruno" and doc["summary"] == ""


def test_the_published_key_is_the_stored_one_created_on_first_use(
    client: TestClient, engine: Engine, session: Session, settings: Settings
) -> None:
    user = make_user(engine, "amina")
    owner = keys.user_owner(user.pk)
    assert keys.current_key(owner, session=session) is None
    session.rollback()  # end the read transaction, to see what the request commits
    pem = get_as(client, "/users/amina")["publicKey"]["publicKeyPem"]
    stored = keys.current_key(owner, session=session)
    assert stored is not None and stored.user_id == user.pk
    published = load_public_key_pem(pem)
    assert isinstance(published, rsa.RSAPublicKey) and published.key_size == 2048
    assert public_pem(published) == stored.public_pem
    private = keys.decrypt_private_key(stored.private_encrypted, settings.secret_key)
    assert public_pem(private) == pem
    # Fetching again neither creates nor changes the key.
    assert get_as(client, "/users/amina", LD)["publicKey"]["publicKeyPem"] == pem
    count = session.exec(select(func.count()).select_from(keys.ActorKey).where(keys.ActorKey.owner == owner))
    assert count.one() == 1


def test_node_actor_document(client: TestClient, session: Session) -> None:
    doc = get_as(client, "/actor")
    assert doc["id"] == f"{BASE}/actor" and doc["type"] == "Application"
    assert doc["preferredUsername"] == "node" and doc["name"] == "Montreuil Services"
    assert "Montreuil (93)" in doc["summary"] and "market" in doc["summary"]
    assert doc["url"] == f"{BASE}/"
    assert doc["inbox"] == f"{BASE}/actor/inbox" and doc["outbox"] == f"{BASE}/actor/outbox"
    assert doc["followers"] == f"{BASE}/actor/followers" and doc["following"] == f"{BASE}/actor/following"
    assert doc["endpoints"]["sharedInbox"] == f"{BASE}/inbox"
    assert doc["publicKey"]["id"] == f"{BASE}/actor#main-key" and doc["publicKey"]["owner"] == doc["id"]
    stored = keys.current_key(keys.NODE_OWNER, session=session)
    assert stored is not None and stored.public_pem == doc["publicKey"]["publicKeyPem"]


def test_summary_html_escapes_and_splits_paragraphs() -> None:
    assert actors.summary_html("") == ""
    assert actors.summary_html("a\r\nb\r\n\r\n\r\n<c>") == "<p>a<br>b</p><p>&lt;c&gt;</p>"
    assert actors.summary_html('"x"') == "<p>&quot;x&quot;</p>"


def test_person_document_can_ask_for_approval_and_show_an_icon(settings: Settings) -> None:
    user = User(id=7, username="carla", password_hash="x", created_at=utcnow(), approve_followers=True)
    doc = actors.person_document(settings, user, "PEM", icon_url="https://cdn.example/c.png")
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["icon"] == {"type": "Image", "mediaType": "image/jpeg", "url": "https://cdn.example/c.png"}


# --- content negotiation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [AS, LD, "application/ld+json", "application/activity+json; charset=utf-8", f"text/html;q=0.5, {AS}"],
)
def test_activitystreams_clients_get_json(client: TestClient, engine: Engine, accept: str) -> None:
    make_user(engine, "amina")
    response = client.get("/users/amina", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/activity+json; charset=utf-8"
    assert response.headers["vary"] == "Accept"
    assert response.json()["id"] == AMINA


@pytest.mark.parametrize("accept", [None, "text/html", "*/*", "application/json", f"{AS};q=0, text/html"])
def test_browsers_get_the_profile_page(client: TestClient, engine: Engine, accept: str | None) -> None:
    make_user(engine, "amina")
    update_user(engine, "amina", display_name="Amina K.")
    headers = {"Accept": accept} if accept else {}
    response = client.get("/users/amina", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Accept" in response.headers["vary"]
    assert "Amina K." in response.text


def test_node_actor_sends_browsers_home(client: TestClient) -> None:
    response = client.get("/actor", headers={"Accept": "text/html"})
    assert response.status_code == 302 and response.headers["location"] == "/"
    assert response.headers["vary"] == "Accept"
    assert get_as(client, "/actor")["type"] == "Application"


@pytest.mark.parametrize("status", [AccountStatus.SUSPENDED, AccountStatus.PENDING])
def test_inactive_and_unknown_people_are_not_found(
    client: TestClient, engine: Engine, status: AccountStatus
) -> None:
    make_user(engine, "amina")
    update_user(engine, "amina", status=status.value)
    for path in ("/users/amina", "/users/nobody"):
        response = client.get(path, headers={"Accept": AS})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.headers["vary"] == "Accept"
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "Accept" in page.headers["vary"]
    for collection in actors.COLLECTIONS:
        assert client.get(f"/users/amina/{collection}", headers={"Accept": AS}).status_code == 404


# --- collections --------------------------------------------------------------------------------


def test_followers_are_paged_newest_first(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    for n in range(45):
        add_follow(engine, f"https://remote.example/users/f{n:02d}", AMINA, FollowState.ACCEPTED, n)
    for n in range(3):
        add_follow(engine, f"https://remote.example/users/p{n}", AMINA, FollowState.PENDING, n)
    add_follow(engine, "https://remote.example/users/r", AMINA, FollowState.REJECTED, 0)
    add_follow(engine, "https://remote.example/users/x", f"{BASE}/users/other", FollowState.ACCEPTED, 0)

    collection = get_as(client, "/users/amina/followers")
    assert collection == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": AMINA + "/followers",
        "type": "OrderedCollection",
        "totalItems": 45,
        "first": AMINA + "/followers?page=1",
    }
    first = get_as(client, "/users/amina/followers?page=1")
    assert first["type"] == "OrderedCollectionPage" and first["partOf"] == AMINA + "/followers"
    assert first["id"] == AMINA + "/followers?page=1"
    assert first["orderedItems"] == [f"https://remote.example/users/f{n:02d}" for n in range(44, 24, -1)]
    assert first["next"] == AMINA + "/followers?page=2" and "prev" not in first
    last = get_as(client, "/users/amina/followers?page=3")
    assert last["orderedItems"] == [f"https://remote.example/users/f{n:02d}" for n in range(4, -1, -1)]
    assert last["prev"] == AMINA + "/followers?page=2" and "next" not in last
    beyond = get_as(client, "/users/amina/followers?page=99999999999999999999")
    assert beyond["orderedItems"] == [] and beyond["totalItems"] == 45
    # Pages walk the whole collection exactly once.
    seen: list[str] = []
    url: str | None = collection["first"]
    while url:
        page = parse_collection(get_as(client, url.removeprefix(BASE)))
        seen.extend(page.item_ids)
        url = page.next
    assert sorted(seen) == sorted(f"https://remote.example/users/f{n:02d}" for n in range(45))


def test_following_lists_accepted_follows_only(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    add_follow(engine, AMINA, "https://remote.example/users/a", FollowState.ACCEPTED, 1)
    add_follow(engine, AMINA, "https://remote.example/users/b", FollowState.ACCEPTED, 2)
    add_follow(engine, AMINA, "https://remote.example/users/c", FollowState.PENDING, 3)
    add_follow(engine, "https://remote.example/users/d", AMINA, FollowState.ACCEPTED, 4)
    assert get_as(client, "/users/amina/following")["totalItems"] == 2
    page = get_as(client, "/users/amina/following?page=1")
    assert page["orderedItems"] == ["https://remote.example/users/b", "https://remote.example/users/a"]


def test_outbox_holds_public_activities_newest_first(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    ids = [add_outbox(engine, AMINA, n) for n in range(25)]
    add_outbox(engine, AMINA, 99, public=False)
    add_outbox(engine, f"{BASE}/users/other", 5)
    assert get_as(client, "/users/amina/outbox")["totalItems"] == 25
    page = get_as(client, "/users/amina/outbox?page=1")
    assert [item["id"] for item in page["orderedItems"]] == ids[::-1][:20]
    assert page["orderedItems"][0] == {
        "id": ids[-1],
        "type": "Create",
        "actor": AMINA,
        "object": ids[-1] + "/object",
    }
    second = get_as(client, "/users/amina/outbox?page=2")
    assert [item["id"] for item in second["orderedItems"]] == ids[::-1][20:]


def test_node_collections(client: TestClient, engine: Engine) -> None:
    node = f"{BASE}/actor"
    add_follow(engine, "https://bagnolet.example/actor", node, FollowState.ACCEPTED, 1)
    add_follow(engine, node, "https://coop.example/actor", FollowState.ACCEPTED, 2)
    add_outbox(engine, node, 1)
    assert get_as(client, "/actor/followers?page=1")["orderedItems"] == ["https://bagnolet.example/actor"]
    assert get_as(client, "/actor/following?page=1")["orderedItems"] == ["https://coop.example/actor"]
    outbox = get_as(client, "/actor/outbox")
    assert outbox["id"] == node + "/outbox" and outbox["totalItems"] == 1


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "", "²", "1" * 40])
def test_malformed_page_numbers_are_refused(client: TestClient, engine: Engine, page: str) -> None:
    make_user(engine, "amina")
    for path in ("/users/amina/followers", "/actor/outbox"):
        response = client.get(path, params={"page": page}, headers={"Accept": AS})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"


def test_parse_page() -> None:
    assert actors.parse_page(None) is None
    assert actors.parse_page("7") == 7
    with pytest.raises(ValueError):
        actors.parse_page("0")


def test_collection_page_document_links() -> None:
    only = actors.collection_page_document("https://n.example/c", 1, 20, [])
    assert "next" not in only and "prev" not in only
    middle = actors.collection_page_document("https://n.example/c", 2, 41, [])
    assert middle["next"] == "https://n.example/c?page=3" and middle["prev"] == "https://n.example/c?page=1"


# --- secure mode --------------------------------------------------------------------------------

KEY_ID = "https://remote.example/users/bob#main-key"


@pytest.fixture(scope="module")
def remote_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def verification_key(private: rsa.RSAPrivateKey) -> VerificationKey:
    return VerificationKey(key=private.public_key(), key_id=KEY_ID, owner="https://remote.example/users/bob")


def signed(
    path: str, private: rsa.RSAPrivateKey, *, accept: str = AS, key_id: str = KEY_ID
) -> dict[str, str]:
    headers = {"Accept": accept, "Host": "testserver"}
    return {**headers, **sign_cavage("GET", BASE + path, headers, None, key_id=key_id, private_key=private)}


@pytest.fixture
def secure_app(settings: Settings, engine: Engine) -> Starlette:
    return create_app(settings.replace(secure_mode=True), engine=engine)


@pytest.fixture
def secure_client(secure_app: Starlette, engine: Engine) -> Iterator[TestClient]:
    make_user(engine, "amina")
    with TestClient(secure_app, base_url=BASE, follow_redirects=False) as c:
        yield c


PROTECTED = ["/users/amina", "/users/amina/outbox", "/users/amina/followers?page=1", "/actor/following"]


@pytest.mark.parametrize("path", PROTECTED)
def test_secure_mode_accepts_signed_gets(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey, path: str
) -> None:
    lookup = FakeKeyLookup(verification_key(remote_key))
    secure_app.state.key_lookup = lookup
    response = secure_client.get(path, headers=signed(path, remote_key))
    assert response.status_code == 200, response.text
    assert lookup.calls == [(KEY_ID, False)]


@pytest.mark.parametrize("path", PROTECTED)
def test_secure_mode_refuses_unsigned_gets(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey, path: str
) -> None:
    lookup = FakeKeyLookup(verification_key(remote_key))
    secure_app.state.key_lookup = lookup
    for headers in ({"Accept": AS}, {"Accept": AS, "Authorization": "Bearer not-a-signature"}):
        response = secure_client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    assert lookup.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Signature": "nonsense"},
        {"Authorization": "Signature garbage"},
        {"Signature-Input": "sig1=garbage", "Signature": "sig1=:AAAA:"},
    ],
)
def test_secure_mode_malformed_signatures_are_400(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey, headers: dict[str, str]
) -> None:
    lookup = FakeKeyLookup(verification_key(remote_key))
    secure_app.state.key_lookup = lookup
    response = secure_client.get("/users/amina", headers={"Accept": AS, **headers})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    assert lookup.calls == []


def test_secure_mode_signature_must_cover_the_request_target(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey
) -> None:
    secure_app.state.key_lookup = FakeKeyLookup(verification_key(remote_key))
    headers = signed("/users/amina", remote_key)
    headers["Signature"] = headers["Signature"].replace(
        'headers="(request-target) host date accept"', 'headers="date"'
    )
    assert 'headers="date"' in headers["Signature"]
    response = secure_client.get("/users/amina", headers=headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_secure_mode_refuses_tampered_requests(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey
) -> None:
    lookup = FakeKeyLookup(verification_key(remote_key))
    secure_app.state.key_lookup = lookup
    # Signed for another path.
    response = secure_client.get("/users/amina/followers", headers=signed("/users/amina", remote_key))
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    # A signed header changed after signing.
    headers = signed("/users/amina", remote_key)
    headers["Accept"] = LD
    assert secure_client.get("/users/amina", headers=headers).status_code == 401
    # Signed by another key than the one published for that key id.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert secure_client.get("/users/amina", headers=signed("/users/amina", other)).status_code == 401
    # A failure is retried once with a refreshed key, never more.
    assert lookup.calls[-2:] == [(KEY_ID, False), (KEY_ID, True)]


def test_secure_mode_unknown_key_or_no_lookup_is_401(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey
) -> None:
    headers = signed("/users/amina", remote_key, key_id="https://remote.example/users/eve#main-key")
    secure_app.state.key_lookup = FakeKeyLookup(verification_key(remote_key))
    assert secure_client.get("/users/amina", headers=headers).status_code == 401
    del secure_app.state.key_lookup
    assert secure_client.get("/users/amina", headers=signed("/users/amina", remote_key)).status_code == 401


def test_secure_mode_unreachable_key_is_401(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey
) -> None:
    async def unreachable(key_id: str, refresh: bool) -> VerificationKey | None:
        raise Unavailable("connection refused", url=key_id, reason="connect_failed")

    secure_app.state.key_lookup = unreachable
    assert secure_client.get("/users/amina", headers=signed("/users/amina", remote_key)).status_code == 401


def test_secure_mode_accepts_rfc9421_signatures(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey
) -> None:
    secure_app.state.key_lookup = FakeKeyLookup(verification_key(remote_key))
    headers = {"Accept": AS, "Host": "testserver"}
    url = BASE + "/users/amina/outbox?page=1"
    headers.update(sign_rfc9421("GET", url, headers, None, key_id=KEY_ID, private_key=remote_key))
    assert secure_client.get("/users/amina/outbox?page=1", headers=headers).status_code == 200
    # The same signature does not fit another page of the collection.
    assert secure_client.get("/users/amina/outbox?page=2", headers=headers).status_code == 401


def test_secure_mode_follows_a_key_rotation(
    secure_app: Starlette, secure_client: TestClient, remote_key: rsa.RSAPrivateKey
) -> None:
    old = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    lookup = FakeKeyLookup(verification_key(old), refreshed=verification_key(remote_key))
    secure_app.state.key_lookup = lookup
    response = secure_client.get("/users/amina", headers=signed("/users/amina", remote_key))
    assert response.status_code == 200
    assert lookup.calls == [(KEY_ID, False), (KEY_ID, True)]


def test_secure_mode_leaves_public_documents_open(secure_client: TestClient) -> None:
    assert secure_client.get("/actor", headers={"Accept": AS}).status_code == 200
    assert secure_client.get("/users/amina", headers={"Accept": "text/html"}).status_code == 200
    assert secure_client.get("/.well-known/webfinger?resource=acct:amina@testserver").status_code == 200
    assert secure_client.get("/.well-known/nodeinfo").status_code == 200
    assert secure_client.get("/nodeinfo/2.1").status_code == 200
    assert secure_client.get("/.well-known/host-meta").status_code == 200


def test_without_secure_mode_no_signature_is_needed(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    assert client.get("/users/amina/followers", headers={"Accept": AS}).status_code == 200
