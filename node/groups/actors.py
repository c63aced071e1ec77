"""Groups as actors: how the protocol finds this node's groups (:data:`DIRECTORY`), the ``Group``
document (FEP-1b12, with the fields Mastodon and Lemmy read), and its ``members`` and ``moderators``
collections.

The document is a ``Group`` with every collection of an actor (``inbox``, ``outbox``, ``followers``,
``following``), ``endpoints.sharedInbox`` and ``publicKey`` (what Mastodon needs to show it and follow
it), ``attributedTo`` and ``moderators`` naming the moderators collection (Lemmy reads both, by version),
``postingRestrictedToMods`` (Lemmy: members do not post in the group's name), ``published``/``updated``,
and our terms: ``members`` (the members collection), ``legalShape``, ``category`` (the services it
offers), ``memberCount``, ``location`` (its territory) and ``evaluations`` (its reputation).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from node.activitypub.actors import documents, local
from node.activitypub.actors.documents import ACTOR_CONTEXT
from node.activitypub.actors.local import LocalActor
from node.core.timeutil import isoformat
from node.groups import records
from node.groups.models import Group
from node.settings import Settings

GROUP_CONTEXT: list[Any] = [
    *ACTOR_CONTEXT[:2],
    {
        **ACTOR_CONTEXT[2],
        "lemmy": "https://join-lemmy.org/ns#",
        "moderators": {"@id": "lemmy:moderators", "@type": "@id"},
        "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
        "members": {"@id": "asasap:members", "@type": "@id"},
        "memberCount": "asasap:memberCount",
        "legalShape": "asasap:legalShape",
        "category": "asasap:category",
    },
]


class Directory:
    """The groups of this node, as :class:`node.activitypub.actors.local.Groups` finds them."""

    def find(self, name: str, *, session: Session, active_only: bool = True) -> Group | None:
        return records.by_name(name, session=session, active_only=active_only)


DIRECTORY = Directory()


def actor_of(settings: Settings, group: Group) -> LocalActor:
    return local.group(settings, group.name)


def render(settings: Settings, group: Group, public_key_pem: str, *, member_count: int) -> dict[str, Any]:
    """The ``Group`` document of ``group`` (pure)."""
    actor = actor_of(settings, group)
    document = documents.actor_document(
        settings,
        actor,
        name=group.display_name,
        summary=documents.summary_html(group.summary),
        url=actor.uri,
        public_key_pem=public_key_pem,
        published=group.created_at,
    )
    document["@context"] = GROUP_CONTEXT
    moderators = actor.uri + "/moderators"
    document.update(
        {
            "updated": isoformat(group.updated_at),
            "attributedTo": moderators,
            "moderators": moderators,
            "postingRestrictedToMods": True,
            "members": actor.uri + "/members",
            "memberCount": member_count,
            "legalShape": group.legal_shape,
            "category": records.json_list(group.categories),
            "evaluations": actor.uri + "/evaluations",
        }
    )
    if group.territory:
        document["location"] = {"type": "Place", "name": group.territory}
    return document


def group_document(settings: Settings, group: Group, *, session: Session, create_key: bool) -> dict[str, Any]:
    """The document of ``group``; raises :class:`~node.activitypub.actors.documents.KeyMissing` when it
    has no key yet and ``create_key`` is false."""
    pem = documents.public_key_pem(settings, actor_of(settings, group), create=create_key, session=session)
    return render(settings, group, pem, member_count=records.member_count(group, session=session))


def load_group_document(
    settings: Settings, name: str, *, session: Session, create_key: bool
) -> dict[str, Any] | None:
    group = records.by_name(name, session=session)
    return group_document(settings, group, session=session, create_key=create_key) if group else None


MemberCollection = str  # "members" | "moderators"


def load_member_collection(
    settings: Settings, name: str, which: MemberCollection, page: int | None, *, session: Session
) -> dict[str, Any] | None:
    """The ``members`` or ``moderators`` collection of a group (actor URIs, oldest first), or a page."""
    group = records.by_name(name, session=session)
    if group is None:
        return None
    rows = (
        records.coordinators(group, session=session)
        if which == "moderators"
        else records.members(group, session=session)
    )
    uris = [row.member_uri for row in rows]
    collection_id = f"{actor_of(settings, group).uri}/{which}"
    if page is None:
        document = documents.collection_document(collection_id, len(uris))
        if which == "moderators":
            document["orderedItems"] = uris  # Lemmy reads the moderators from the collection itself
            document.pop("first", None)
        return document
    start = (page - 1) * documents.PAGE_SIZE
    return documents.collection_page_document(
        collection_id, page, len(uris), uris[start : start + documents.PAGE_SIZE]
    )


def load_actor_collection(
    settings: Settings, name: str, which: documents.CollectionName, page: int | None, *, session: Session
) -> dict[str, Any] | None:
    """The ``outbox``, ``followers`` or ``following`` collection of a group, or a page of it."""
    group = records.by_name(name, session=session)
    if group is None:
        return None
    actor = actor_of(settings, group)
    collection_id = f"{actor.uri}/{which}"
    total = documents.count_items(actor, which, session=session)
    if page is None:
        return documents.collection_document(collection_id, total)
    offset = (page - 1) * documents.PAGE_SIZE
    items = (
        []
        if offset >= total
        else documents.load_items(actor, which, offset=offset, limit=documents.PAGE_SIZE, session=session)
    )
    return documents.collection_page_document(collection_id, page, total, items)


def load_activity(settings: Settings, activity_id: str, *, session: Session) -> dict[str, Any] | None:
    """An activity of one of our active groups at its id (what the group announces, or its
    ``Announce``), when public: a node that received only the id fetches it from here (FEP-1b12). What
    goes to the members only (notices) is never served."""
    found = documents.public_activity(activity_id, session=session)
    if found is None:
        return None
    actor_uri, document = found
    name = local.local_group_name(settings, actor_uri)
    if name is None or records.by_name(name, session=session) is None:
        return None
    return document
