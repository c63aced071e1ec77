"""The typed reader of incoming ActivityStreams, on payloads shaped as real servers send them."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub.addressing import PUBLIC as AS_PUBLIC
from node.activitypub.signatures import load_public_key_pem
from node.activitypub.vocab import (
    ACTIVITY_KINDS,
    UnknownActivityType,
    VocabError,
    parse_activity,
    parse_actor,
    parse_collection,
)
from tests.support.data import CAPTURED

DATA = CAPTURED


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


ACTOR_FILES = ["mastodon-actor.json", "misskey-actor.json", "gotosocial-actor.json", "akkoma-actor.json"]
ACTIVITY_FILES = sorted(
    p.name
    for p in DATA.glob("*.json")
    if load(p.name)["type"] in ACTIVITY_KINDS and p.name not in ACTOR_FILES
)


def test_every_data_file_is_documented() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for path in DATA.glob("*.json"):
        assert path.name in readme, f"{path.name} has no origin in README.md"


@pytest.mark.parametrize("name", ACTOR_FILES)
def test_actors_of_every_server_parse_with_a_usable_key(name: str) -> None:
    actor = parse_actor(load(name))
    assert actor.id.startswith("https://") and actor.inbox.startswith(actor.id)
    assert actor.type == "Person" and actor.preferred_username
    assert actor.public_key is not None and actor.public_key.owner == actor.id
    assert isinstance(load_public_key_pem(actor.public_key.pem), rsa.RSAPublicKey)
    assert actor.raw["id"] == actor.id


def test_mastodon_actor() -> None:
    actor = parse_actor(load("mastodon-actor.json"))
    assert actor.shared_inbox == "https://mastodon.example/inbox"
    assert actor.followers == actor.id + "/followers" and actor.following == actor.id + "/following"
    assert actor.outbox == actor.id + "/outbox"
    assert actor.name == "Claire Dubois" and actor.summary.startswith("<p>")
    assert actor.url == "https://mastodon.example/@claire"
    assert actor.icon_url and actor.icon_url.endswith("claire.png")
    assert actor.public_key is not None and actor.public_key.id == actor.id + "#main-key"
    assert actor.manually_approves_followers is False
    assert actor.domain == "mastodon.example"


def test_misskey_actor_with_null_fields() -> None:
    actor = parse_actor(load("misskey-actor.json"))
    assert actor.name == "" and actor.summary == "" and actor.icon_url is None
    assert actor.shared_inbox == "https://misskey.example/inbox"
    assert actor.url == "https://misskey.example/@hana"
    assert actor.manually_approves_followers is True


def test_misskey_shared_inbox_only_at_the_top_level() -> None:
    data = load("misskey-actor.json")
    del data["endpoints"]
    assert parse_actor(data).shared_inbox == "https://misskey.example/inbox"


def test_gotosocial_actor_without_shared_inbox_and_with_its_key_id() -> None:
    actor = parse_actor(load("gotosocial-actor.json"))
    assert actor.shared_inbox is None
    assert actor.public_key is not None and actor.public_key.id == actor.id + "/main-key"
    assert actor.manually_approves_followers is True and actor.icon_url is None


def test_akkoma_actor() -> None:
    actor = parse_actor(load("akkoma-actor.json"))
    assert actor.shared_inbox == "https://akkoma.example/inbox"
    assert actor.url == actor.id
    assert actor.icon_url == "https://akkoma.example/media/3f2e1d.png"


@pytest.mark.parametrize("name", ACTIVITY_FILES)
def test_activities_of_every_server_parse(name: str) -> None:
    data = load(name)
    activity = parse_activity(data)
    assert activity.id == data["id"] and activity.type == data["type"]
    assert activity.actor.startswith("https://")
    assert activity.object_id is not None or activity.object is not None


def test_mastodon_follow_and_accept() -> None:
    follow = parse_activity(load("mastodon-follow.json"))
    assert follow.type == "Follow" and follow.object_id == "https://asasap.example/users/amina"
    assert follow.object is None and follow.to == () and follow.published is None
    accept = parse_activity(load("mastodon-accept-follow.json"))
    assert accept.object_type == "Follow"
    assert accept.object_id == "https://asasap.example/activities/0b7e7a52-1c43-4f6b-8f1e-0d7f0b1c2a3d"
    assert accept.object is not None and accept.object["actor"] == "https://asasap.example/users/amina"
    embedded = parse_activity(accept.object)
    assert embedded.type == "Follow" and embedded.object_id == accept.actor


def test_mastodon_create_note() -> None:
    create = parse_activity(load("mastodon-create-note.json"))
    assert create.is_public and create.to == (AS_PUBLIC,)
    assert create.cc == ("https://mastodon.example/users/claire/followers",)
    assert create.published == datetime(2024, 5, 2, 18, 30, 12, tzinfo=UTC)
    assert create.object_type == "Note" and create.object_id is not None
    assert create.object_id.endswith("/statuses/111222333444555666")
    assert create.recipients == (AS_PUBLIC, "https://mastodon.example/users/claire/followers")


def test_mastodon_replies_collection_embeds_an_anonymous_first_page() -> None:
    note = load("mastodon-create-note.json")["object"]
    replies = parse_collection(note["replies"])
    assert replies.type == "Collection" and not replies.ordered and not replies.is_page
    assert replies.first_page is not None and replies.first_page.id is None
    assert replies.first is None
    assert replies.first_page.next is not None and replies.first_page.next.endswith("page=true")
    assert replies.first_page.items == ()


def test_mastodon_delete_of_an_actor() -> None:
    delete = parse_activity(load("mastodon-delete-actor.json"))
    assert delete.object_id == delete.actor and delete.object is None and delete.is_public


def test_misskey_accept_undo_and_update() -> None:
    accept = parse_activity(load("misskey-accept-follow.json"))
    assert accept.to == () and accept.object_type == "Follow"
    undo = parse_activity(load("misskey-undo-like.json"))
    assert undo.object_type == "Like" and undo.object_id == "https://misskey.example/likes/9s1bb2cd3e"
    assert undo.published == datetime(2024, 3, 9, 11, 22, 33, 444000, tzinfo=UTC)
    update = parse_activity(load("misskey-update-person.json"))
    assert update.object is not None and parse_actor(update.object).id == update.actor


def test_akkoma_follow_accept_and_reaction() -> None:
    follow = parse_activity(load("akkoma-follow.json"))
    assert follow.to == ("https://asasap.example/users/amina",) and follow.cc == (AS_PUBLIC,)
    assert follow.published is not None and follow.published.microsecond == 123456
    accept = parse_activity(load("akkoma-accept-follow.json"))
    assert accept.cc == () and accept.object_type == "Follow"
    react = parse_activity(load("akkoma-emoji-react.json"))
    assert react.type == "EmojiReact" and react.raw["content"] == "\U0001f9e1"


def test_collections_of_every_server() -> None:
    followers = parse_collection(load("mastodon-followers.json"))
    assert followers.ordered and followers.total_items == 57
    assert followers.first == "https://mastodon.example/users/claire/followers?page=1"
    outbox = parse_collection(load("mastodon-outbox.json"))
    assert outbox.total_items == 312 and outbox.first and outbox.first.endswith("?page=true")
    page = parse_collection(load("gotosocial-outbox-page.json"))
    assert page.is_page and page.ordered and page.total_items is None
    assert page.part_of == "https://gts.example/users/tortue/outbox"
    assert page.next and "max_id=" in page.next and page.prev and "min_id=" in page.prev
    assert page.item_ids == ("https://gts.example/users/tortue/statuses/01FJC1MKPVX2VMWP2ST93Q90K7/activity",)
    assert isinstance(page.items[0], dict) and parse_activity(page.items[0]).type == "Create"
    following = parse_collection(load("gotosocial-following.json"))
    assert following.total_items == 397 and following.first and following.first.endswith("?limit=40")
    akkoma = parse_collection(load("akkoma-followers.json"))
    assert akkoma.first == "https://akkoma.example/users/akko/followers?page=1"
    assert akkoma.first_page is not None and akkoma.first_page.is_page
    assert akkoma.first_page.item_ids == (
        "https://mastodon.example/users/claire",
        "https://asasap.example/users/amina",
    )


# --- real-world shape variations ----------------------------------------------------------------

FOLLOW: dict[str, Any] = {
    "id": "https://remote.example/activities/1",
    "type": "Follow",
    "actor": "https://remote.example/users/bob",
    "object": "https://asasap.example/users/amina",
}


def follow(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(FOLLOW)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def test_actor_as_an_object_or_a_one_element_list() -> None:
    bob = "https://remote.example/users/bob"
    assert parse_activity(follow(actor={"id": bob, "type": "Person"})).actor == bob
    assert parse_activity(follow(actor=[bob])).actor == bob
    assert parse_activity(follow(actor=[{"id": bob}])).actor == bob


def test_object_as_a_one_element_list() -> None:
    assert parse_activity(follow(object=["https://asasap.example/users/amina"])).object_id == (
        "https://asasap.example/users/amina"
    )
    embedded = parse_activity(follow(object=[{"id": "https://x.example/o", "type": "Note"}]))
    assert embedded.object_id == "https://x.example/o" and embedded.object_type == "Note"


def test_embedded_object_without_id_is_kept_raw() -> None:
    activity = parse_activity(follow(type="Create", object={"type": "Note", "content": "hi"}))
    assert activity.object_id is None and activity.object == {"type": "Note", "content": "hi"}


@pytest.mark.parametrize("field", ["actor", "object"])
def test_several_actors_or_objects_are_refused(field: str) -> None:
    value = ["https://a.example/1", "https://a.example/2"]
    with pytest.raises(VocabError, match=field):
        parse_activity(follow(**{field: value}))


def test_audience_as_a_string_a_list_or_objects() -> None:
    activity = parse_activity(
        follow(to=AS_PUBLIC, cc=["https://r.example/f", {"id": "https://r.example/g"}], audience="as:Public")
    )
    assert activity.to == (AS_PUBLIC,)
    assert activity.cc == ("https://r.example/f", "https://r.example/g")
    assert activity.audience == (AS_PUBLIC,)
    assert activity.recipients == (AS_PUBLIC, "https://r.example/f", "https://r.example/g")


def test_compacted_public_forms_are_normalised() -> None:
    assert parse_activity(follow(to=["Public"])).is_public
    assert not parse_activity(follow(to=["https://r.example/f"])).is_public


def test_type_as_a_list_and_context_ignored() -> None:
    activity = parse_activity(follow(type=["litepub:Thing", "Follow"], **{"@context": 42}))
    assert activity.type == "Follow"


def test_icon_and_url_shapes() -> None:
    base = load("mastodon-actor.json")
    base["icon"] = [{"type": "Image", "url": "https://m.example/a.png"}, {"type": "Image", "url": "x"}]
    base["url"] = [
        {"type": "Link", "mediaType": "application/activity+json", "href": "https://m.example/ap"},
        {"type": "Link", "mediaType": "text/html", "href": "https://m.example/@claire"},
    ]
    actor = parse_actor(base)
    assert actor.icon_url == "https://m.example/a.png"
    assert actor.url == "https://m.example/@claire"
    base["icon"] = {"type": "Image", "url": {"type": "Link", "href": "https://m.example/b.png"}}
    base["url"] = "not a url"
    actor = parse_actor(base)
    assert actor.icon_url == "https://m.example/b.png" and actor.url is None


def test_public_key_list_keeps_the_key_the_actor_owns() -> None:
    data = load("mastodon-actor.json")
    own = data["publicKey"]
    stranger = {"id": "https://evil.example/k", "owner": "https://evil.example/u", "publicKeyPem": "x"}
    data["publicKey"] = [stranger, own]
    key = parse_actor(data).public_key
    assert key is not None and key.id == own["id"]
    data["publicKey"] = stranger
    assert parse_actor(data).public_key is None
    data["publicKey"] = "https://mastodon.example/users/claire#main-key"
    assert parse_actor(data).public_key is None


def test_published_without_offset_is_utc() -> None:
    assert parse_activity(follow(published="2024-01-02T03:04:05")).published == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert parse_activity(follow(published="2024-01-02T05:04:05+02:00")).published == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )


def test_intransitive_activities_need_no_object() -> None:
    arrive = parse_activity(follow(type="Arrive", object=...))
    assert arrive.object_id is None and arrive.object is None


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([FOLLOW], "JSON object"),
        ("Follow", "JSON object"),
        (follow(id=...), "'id'"),
        (follow(id="urn:uuid:1234"), "'id'"),
        (follow(id="https://exa mple.com/1"), "'id'"),
        (follow(id="https://example.com/" + "a" * 3000), "'id'"),
        (follow(type=...), "'type'"),
        (follow(type=7), "'type'"),
        (follow(actor=...), "'actor'"),
        (follow(actor=None), "'actor'"),
        (follow(actor={"type": "Person"}), "'actor'"),
        (follow(actor=42), "'actor'"),
        (follow(object=...), "'object'"),
        (follow(to=[1]), "'to'"),
        (follow(cc=5), "'cc'"),
        (follow(published="yesterday"), "ISO 8601"),
        (follow(published=1700000000), "'published'"),
        (follow(target="ftp://x.example/c"), "'target'"),
    ],
)
def test_malformed_activities_are_refused_with_the_field_named(data: Any, message: str) -> None:
    with pytest.raises(VocabError, match=message):
        parse_activity(data)


def test_unknown_activity_type_is_its_own_error() -> None:
    with pytest.raises(UnknownActivityType, match="'Dance'"):
        parse_activity(follow(type="Dance"))
    assert issubclass(UnknownActivityType, VocabError) and issubclass(VocabError, ValueError)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inbox": None}, "'inbox'"),
        ({"inbox": "/inbox"}, "'inbox'"),
        ({"id": None}, "'id'"),
        ({"type": "Note"}, "not an actor type"),
        ({"name": ["x"]}, "'name'"),
        ({"manuallyApprovesFollowers": "yes"}, "'manuallyApprovesFollowers'"),
        ({"outbox": 3}, "'outbox'"),
    ],
)
def test_malformed_actors_are_refused(change: dict[str, Any], message: str) -> None:
    data = load("mastodon-actor.json")
    data.update(change)
    with pytest.raises(VocabError, match=message):
        parse_actor(data)


def test_actor_type_is_read_from_a_list() -> None:
    data = load("akkoma-actor.json")
    data["type"] = ["Service", "schema:Organization"]
    assert parse_actor(data).type == "Service"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "'id'"),
        ({"type": "Person"}, "not a collection type"),
        ({"totalItems": -1}, "'totalItems'"),
        ({"totalItems": "12"}, "'totalItems'"),
        ({"totalItems": True}, "'totalItems'"),
        ({"orderedItems": [1, 2]}, "items"),
        ({"next": "nope"}, "'next'"),
    ],
)
def test_malformed_collections_are_refused(change: dict[str, Any], message: str) -> None:
    data = load("gotosocial-outbox-page.json")
    data.update(change)
    with pytest.raises(VocabError, match=message):
        parse_collection(data)


def test_registry_names_match_their_keys() -> None:
    assert all(kind.name == name for name, kind in ACTIVITY_KINDS.items())
    assert not ACTIVITY_KINDS["Arrive"].object_required and ACTIVITY_KINDS["Follow"].object_required


def test_deep_nesting_is_refused_or_ignored_without_recursion_errors() -> None:
    data = load("mastodon-actor.json")
    deep: Any = "https://m.example/a.png"
    for _ in range(5000):
        deep = {"url": deep}
    data["icon"] = deep
    assert parse_actor(data).icon_url is None
    page: dict[str, Any] = {"type": "OrderedCollectionPage", "orderedItems": []}
    nested = {"id": "https://g.example/c", "type": "OrderedCollection", "first": {**page, "first": page}}
    with pytest.raises(VocabError, match="'first'"):
        parse_collection(nested)
