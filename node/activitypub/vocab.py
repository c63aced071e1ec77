"""Typed reading of incoming ActivityStreams: actors, activities and collections.

Raw JSON stays at the edge. :func:`parse_actor`, :func:`parse_activity` and :func:`parse_collection`
turn a decoded JSON object into frozen dataclasses; ``raw`` keeps the whole document for whoever needs
more. ``@context`` is ignored: we read the compacted shape fediverse servers send, not arbitrary JSON-LD.

The rules, the same for every field:

- a required field that is missing, null or of the wrong shape raises :class:`VocabError` naming it;
- an optional field that is absent or null takes its default; present with a wrong type, it raises too;
- purely cosmetic links (``icon``, ``url``) never raise: an unusable value reads as None;
- unknown fields are ignored.

Shapes seen in the wild and accepted: ``actor`` and ``object`` as an id, an embedded object or a
one-element list (a ``Flag`` may list several objects: Mastodon reports an account with its statuses,
GoToSocial and Mbin do the same; ``object_ids`` keeps them all); ``to``/``cc``/``audience`` as one
string or a list; ``icon`` and ``url`` as a string,
a ``Link``/``Image`` object or a list of them; ``publicKey`` as an object or a list (the key whose
``owner`` is the actor is kept); ``first`` of a collection as an id or an embedded page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from node.activitypub.addressing import PUBLIC, PUBLIC_ADDRESSES, is_uri

_MAX_LINK_DEPTH = 4

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
COLLECTION_TYPES = frozenset({"Collection", "OrderedCollection", "CollectionPage", "OrderedCollectionPage"})
_PAGE_TYPES = frozenset({"CollectionPage", "OrderedCollectionPage"})


class VocabError(ValueError):
    """A document that cannot be read as what it should be; the message names the field."""


class UnknownActivityType(VocabError):
    """An activity whose type is not in :data:`ACTIVITY_KINDS`."""


@dataclass(frozen=True)
class PublicKey:
    """An actor's published key (``publicKey``): its id, its owner and its PEM text."""

    id: str
    owner: str
    pem: str


@dataclass(frozen=True)
class Actor:
    """A remote actor as it describes itself."""

    id: str
    type: str
    inbox: str
    outbox: str | None = None
    followers: str | None = None
    following: str | None = None
    shared_inbox: str | None = None
    preferred_username: str = ""
    name: str = ""
    summary: str = ""
    url: str | None = None
    icon_url: str | None = None
    public_key: PublicKey | None = None
    manually_approves_followers: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def domain(self) -> str:
        """Host and port of the actor's id."""
        return urlsplit(self.id).netloc.lower()


@dataclass(frozen=True)
class Activity:
    """An activity. ``object_id`` is the object's id (when it has one); ``object`` is the embedded
    object exactly as received, or None when only an id was given."""

    id: str
    type: str
    actor: str
    object_id: str | None = None
    object: Mapping[str, Any] | None = field(default=None, compare=False)
    target_id: str | None = None
    object_ids: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    published: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone addressed, in order, without repeats."""
        return tuple(dict.fromkeys((*self.to, *self.cc, *self.audience)))

    @property
    def is_public(self) -> bool:
        return PUBLIC in self.recipients

    @property
    def object_type(self) -> str | None:
        """The type of the embedded object, if one is embedded and says it."""
        if self.object is None:
            return None
        kind = self.object.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if isinstance(k, str)), None)
        return kind if isinstance(kind, str) else None


@dataclass(frozen=True)
class Collection:
    """A collection or a page of one. ``first_page`` is set when ``first`` was embedded.

    ``id`` is always set for a document fetched on its own; an embedded page may be anonymous.
    """

    id: str | None
    type: str
    total_items: int | None = None
    first: str | None = None
    first_page: Collection | None = None
    next: str | None = None
    prev: str | None = None
    part_of: str | None = None
    items: tuple[str | Mapping[str, Any], ...] = field(default=(), compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_page(self) -> bool:
        return self.type in _PAGE_TYPES

    @property
    def ordered(self) -> bool:
        return self.type.startswith("Ordered")

    @property
    def item_ids(self) -> tuple[str, ...]:
        """The id of every item, whether given as an id or embedded (anonymous items are skipped)."""
        ids = []
        for item in self.items:
            if isinstance(item, str):
                ids.append(item)
            elif isinstance(item.get("id"), str):
                ids.append(item["id"])
        return tuple(ids)


@dataclass(frozen=True)
class ActivityKind:
    """What :func:`parse_activity` requires of one activity type; ``many_objects`` when it may act on a
    list of objects."""

    name: str
    object_required: bool = True
    many_objects: bool = False


def _kinds(*kinds: ActivityKind) -> Mapping[str, ActivityKind]:
    return {kind.name: kind for kind in kinds}


# The activity types we read. Intransitive ones (no object) say so.
ACTIVITY_KINDS: Mapping[str, ActivityKind] = _kinds(
    ActivityKind("Accept"),
    ActivityKind("Add"),
    ActivityKind("Announce"),
    ActivityKind("Arrive", object_required=False),
    ActivityKind("Block"),
    ActivityKind("Create"),
    ActivityKind("Delete"),
    ActivityKind("Dislike"),
    ActivityKind("EmojiReact"),  # Akkoma and Pleroma reactions
    ActivityKind("Flag", many_objects=True),  # Mastodon, GoToSocial, Mbin: an account and its posts
    ActivityKind("Follow"),
    ActivityKind("Ignore"),
    ActivityKind("Invite"),
    ActivityKind("Join"),
    ActivityKind("Leave", object_required=False),
    ActivityKind("Like"),
    ActivityKind("Move"),
    ActivityKind("Offer"),
    ActivityKind("Read"),
    ActivityKind("Reject"),
    ActivityKind("Remove"),
    ActivityKind("TentativeAccept"),
    ActivityKind("TentativeReject"),
    ActivityKind("Travel", object_required=False),
    ActivityKind("Undo"),
    ActivityKind("Update"),
    ActivityKind("View"),
)


# --- field readers ------------------------------------------------------------------------------


def _document(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise VocabError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def _type(data: Mapping[str, Any], known: frozenset[str] | Mapping[str, Any]) -> str:
    """The ``type``: a string, or from a list the first known name (else the first string)."""
    value = data.get("type")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list):
        names = [v for v in value if isinstance(v, str) and v]
        for name in names:
            if name in known:
                return name
        if names:
            return names[0]
    if value is None:
        raise VocabError("missing required field 'type'")
    raise VocabError("field 'type' must be a string or a list of strings")


def _uri(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise VocabError(f"field {name!r} must be a URI string")
    if not is_uri(value):
        raise VocabError(f"field {name!r} is not an http(s) URI")
    return value


def _required_uri(data: Mapping[str, Any], name: str) -> str:
    if data.get(name) is None:
        raise VocabError(f"missing required field {name!r}")
    return _uri(data[name], name)


def _optional_uri(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else _ref(value, name)


def _single(value: object, name: str) -> object:
    """Unwrap a one-element list (several servers wrap single values); refuse longer lists."""
    if isinstance(value, list):
        if len(value) != 1:
            raise VocabError(f"field {name!r} must hold one value, not {len(value)}")
        return value[0]
    return value


def _ref(value: object, name: str) -> str:
    """An id given as a string, as an object with an ``id``, or as a one-element list of either."""
    value = _single(value, name)
    if isinstance(value, Mapping):
        if value.get("id") is None:
            raise VocabError(f"field {name!r} is an object without an 'id'")
        return _uri(value["id"], f"{name}.id")
    return _uri(value, name)


def _object(value: object, name: str) -> tuple[str | None, Mapping[str, Any] | None]:
    """``(id, embedded)`` of an object reference; embedded objects are kept as received."""
    value = _single(value, name)
    if isinstance(value, Mapping):
        object_id = value.get("id")
        return (None if object_id is None else _uri(object_id, f"{name}.id")), value
    return _uri(value, name), None


def _audience(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    result = []
    for item in values:
        if isinstance(item, Mapping):
            item = item.get("id")
        if not isinstance(item, str):
            raise VocabError(f"field {name!r} must hold URI strings")
        result.append(PUBLIC if item in PUBLIC_ADDRESSES else item)
    return tuple(result)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise VocabError(f"field {name!r} must be a string")
    return value


def _bool(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise VocabError(f"field {name!r} must be true or false")
    return value


def _count(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise VocabError(f"field {name!r} must be a non-negative integer")
    return value


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 / RFC 3339 timestamp as an aware UTC datetime (no offset means UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise VocabError(f"{value[:40]!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _datetime(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise VocabError(f"field {name!r} must be a date string")
    return parse_datetime(value)


def _link(value: object, prefer_html: bool = False, depth: int = 0) -> str | None:
    """The URL of a link-ish value: a string, an ``href``/``url`` object, or a list of those.

    Nesting deeper than a few levels is not a link anyone publishes: it reads as None.
    """
    if isinstance(value, str):
        return value if is_uri(value) else None
    if depth >= _MAX_LINK_DEPTH:
        return None
    if isinstance(value, Mapping):
        if "href" in value:
            return _link(value["href"], depth=depth + 1)
        return _link(value.get("url"), prefer_html, depth + 1)
    if isinstance(value, list):
        if prefer_html:
            # Several servers list a profile page next to other links; the HTML one is the profile.
            for item in value:
                if isinstance(item, Mapping) and item.get("mediaType") == "text/html":
                    found = _link(item, depth=depth + 1)
                    if found:
                        return found
        for item in value:
            found = _link(item, prefer_html, depth + 1)
            if found:
                return found
    return None


def _public_key(value: object, actor_id: str) -> PublicKey | None:
    """The key the actor owns, from an object or a list; a key owned by anyone else is ignored."""
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        if not isinstance(candidate, Mapping):
            continue
        key_id, owner, pem = candidate.get("id"), candidate.get("owner"), candidate.get("publicKeyPem")
        if owner == actor_id and isinstance(key_id, str) and is_uri(key_id) and isinstance(pem, str):
            return PublicKey(id=key_id, owner=actor_id, pem=pem)
    return None


# --- parsers ------------------------------------------------------------------------------------


def parse_actor(data: object) -> Actor:
    """Read an actor document; raises :class:`VocabError` when it is not a usable actor."""
    doc = _document(data, "an actor")
    kind = _type(doc, ACTOR_TYPES)
    if kind not in ACTOR_TYPES:
        raise VocabError(f"type {kind!r} is not an actor type")
    actor_id = _required_uri(doc, "id")
    endpoints = doc.get("endpoints")
    if endpoints is not None and not isinstance(endpoints, Mapping):
        endpoints = None  # some servers publish endpoints as a link; no shared inbox to read then
    shared_inbox = _optional_uri(endpoints, "sharedInbox") if endpoints else None
    if shared_inbox is None and doc.get("sharedInbox") is not None:
        shared_inbox = _optional_uri(doc, "sharedInbox")  # Misskey also puts it at the top level
    return Actor(
        id=actor_id,
        type=kind,
        inbox=_required_uri(doc, "inbox"),
        outbox=_optional_uri(doc, "outbox"),
        followers=_optional_uri(doc, "followers"),
        following=_optional_uri(doc, "following"),
        shared_inbox=shared_inbox,
        preferred_username=_text(doc, "preferredUsername"),
        name=_text(doc, "name"),
        summary=_text(doc, "summary"),
        url=_link(doc.get("url"), prefer_html=True),
        icon_url=_link(doc.get("icon")),
        public_key=_public_key(doc.get("publicKey"), actor_id),
        manually_approves_followers=_bool(doc, "manuallyApprovesFollowers"),
        raw=doc,
    )


def parse_activity(data: object) -> Activity:
    """Read an activity of a type in :data:`ACTIVITY_KINDS`.

    Raises :class:`UnknownActivityType` for other types and :class:`VocabError` for a malformed one.
    """
    doc = _document(data, "an activity")
    kind_name = _type(doc, ACTIVITY_KINDS)
    kind = ACTIVITY_KINDS.get(kind_name)
    if kind is None:
        raise UnknownActivityType(f"unsupported activity type {kind_name!r}")
    activity_id = _required_uri(doc, "id")
    if doc.get("actor") is None:
        raise VocabError("missing required field 'actor'")
    actor = _ref(doc["actor"], "actor")
    object_id: str | None = None
    embedded: Mapping[str, Any] | None = None
    object_ids: tuple[str, ...] = ()
    raw_object = doc.get("object")
    if kind.many_objects and isinstance(raw_object, list) and len(raw_object) > 1:
        object_ids = tuple(dict.fromkeys(_ref(item, "object") for item in raw_object))
        object_id = object_ids[0]
    elif raw_object is not None:
        object_id, embedded = _object(raw_object, "object")
        object_ids = () if object_id is None else (object_id,)
    elif kind.object_required:
        raise VocabError(f"missing required field 'object' of a {kind.name}")
    return Activity(
        id=activity_id,
        type=kind.name,
        actor=actor,
        object_id=object_id,
        object=embedded,
        target_id=_optional_uri(doc, "target"),
        object_ids=object_ids,
        to=_audience(doc, "to"),
        cc=_audience(doc, "cc"),
        audience=_audience(doc, "audience"),
        published=_datetime(doc, "published"),
        raw=doc,
    )


def _collection(doc: Mapping[str, Any], *, require_id: bool, embedded: bool = False) -> Collection:
    kind = _type(doc, COLLECTION_TYPES)
    if kind not in COLLECTION_TYPES:
        raise VocabError(f"type {kind!r} is not a collection type")
    collection_id = _required_uri(doc, "id") if require_id else _optional_uri(doc, "id")
    first: str | None = None
    first_page: Collection | None = None
    raw_first = doc.get("first")
    if isinstance(raw_first, Mapping):
        if embedded:
            raise VocabError("field 'first' of an embedded page cannot embed another page")
        # Akkoma and Mastodon's reply collections embed the first page instead of linking it.
        first_page = _collection(raw_first, require_id=False, embedded=True)
        first = first_page.id
    elif raw_first is not None:
        first = _ref(raw_first, "first")
    raw_items = doc.get("orderedItems", doc.get("items"))
    if raw_items is None:
        raw_items = []
    elif not isinstance(raw_items, list):
        raw_items = [raw_items]
    items: list[str | Mapping[str, Any]] = []
    for item in raw_items:
        if isinstance(item, str | Mapping):
            items.append(item)
        else:
            raise VocabError("collection items must be URI strings or objects")
    return Collection(
        id=collection_id,
        type=kind,
        total_items=_count(doc, "totalItems"),
        first=first,
        first_page=first_page,
        next=_optional_uri(doc, "next"),
        prev=_optional_uri(doc, "prev"),
        part_of=_optional_uri(doc, "partOf"),
        items=tuple(items),
        raw=doc,
    )


def parse_collection(data: object) -> Collection:
    """Read a collection or collection page fetched on its own (its ``id`` is required)."""
    return _collection(_document(data, "a collection"), require_id=True)
