"""Who an actor URI is, for the pages that show people: someone of this node (their account), someone of
another server (the cached actor), or nobody known. One query per kind, whatever the number of URIs."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.activitypub.models import RemoteActor
from node.settings import Settings

REMOTE_PROFILE_PATH = "/people"


@dataclass(frozen=True)
class Person:
    """An actor as people see it. ``name`` is empty when unknown (a remote actor without a name, or
    nobody known; someone of this node is at least their username); ``username`` is the local part of
    ``handle`` (``user@host``, or the URI when nothing better is known); ``url`` the profile to link to."""

    uri: str
    name: str
    username: str
    handle: str
    url: str
    local: bool = False
    known: bool = False
    deleted: bool = False
    avatar: str | None = None  # content hash of the picture at /avatars/<hash>.jpg

    @property
    def label(self) -> str:
        """The name, else the handle."""
        return self.name or self.handle


def local_users(settings: Settings, uris: Iterable[str], *, session: Session) -> dict[str, User]:
    """The accounts of this node among the actors ``uris`` (by URI), read in one query."""
    usernames = {name: uri for uri in uris if (name := local.local_username(settings, uri)) is not None}
    if not usernames:
        return {}
    rows = session.exec(_users_statement(), params={"usernames": list(usernames)}).all()
    return {usernames[user.username]: user for user in rows}


@functools.cache
def _users_statement() -> SelectOfScalar[User]:
    """The accounts named ``usernames``: every listing reads its authors' (built once)."""
    return select(User).where(col(User.username).in_(bindparam("usernames", expanding=True)))


def describe(
    settings: Settings,
    uris: Iterable[str],
    *,
    session: Session,
    users: Mapping[str, User] | None = None,
) -> Mapping[str, Person]:
    """A :class:`Person` for each of ``uris``; ``users``: their accounts of this node when the caller
    has already read them (:func:`local_users`), so that they are not read twice."""
    wanted = list(dict.fromkeys(uris))
    usernames = {name: uri for uri in wanted if (name := local.local_username(settings, uri)) is not None}
    found: dict[str, Person] = {}
    if usernames:
        if users is None:
            users = local_users(settings, usernames.values(), session=session)
        for uri in usernames.values():
            user = users.get(uri)
            if user is None:
                continue
            deleted = user.status == AccountStatus.DELETED.value
            found[uri] = Person(
                uri,
                user.username if deleted else user.name,
                user.username,
                f"{user.username}@{settings.domain}",
                f"/users/{user.username}",
                local=True,
                known=True,
                deleted=deleted,
                avatar=None if deleted else user.avatar,
            )
    remote = [uri for uri in wanted if uri not in found and uri not in usernames.values()]
    if remote:
        for actor in session.exec(select(RemoteActor).where(col(RemoteActor.uri).in_(remote))).all():
            found[actor.uri] = Person(
                actor.uri,
                actor.name,
                actor.preferred_username,
                actor.handle,
                f"{REMOTE_PROFILE_PATH}/{actor.id}",  # a local page: no dead end on another server
                known=True,
                avatar=actor.avatar,
            )
    by_uri = {uri: name for name, uri in usernames.items()}
    for uri in wanted:
        if uri in found:
            continue
        if uri in by_uri:  # a URI of this node without an account
            name = by_uri[uri]
            found[uri] = Person(uri, name, name, f"{name}@{settings.domain}", f"/users/{name}", local=True)
        else:
            found[uri] = Person(uri, "", "", uri, uri)
    return found


def person(settings: Settings, uri: str, *, session: Session) -> Person:
    """The :class:`Person` at ``uri``."""
    return describe(settings, [uri], session=session)[uri]


def remote_actor(actor_id: int, *, session: Session) -> RemoteActor | None:
    """The cached actor of another server shown at ``/people/<id>``."""
    return session.get(RemoteActor, actor_id)


def node_names(domains: Iterable[str], *, session: Session) -> dict[str, str]:
    """The names other nodes give themselves (their node actor's ``name``, at ``/actor``, as ASASAP and
    Mastodon publish it), for the domains whose node actor this node has cached; the others are absent."""
    wanted = {domain for domain in domains if domain}
    if not wanted:
        return {}
    rows = session.exec(_node_names_statement(), params={"domains": sorted(wanted)}).all()
    return {domain: name for domain, uri, name in rows if name and uri.endswith("/actor")}


@functools.cache
def _node_names_statement() -> Select[str, str, str]:
    """The node actors cached for ``domains``: listings name the nodes of their cards (built once)."""
    return select(RemoteActor.domain, RemoteActor.uri, RemoteActor.name).where(
        col(RemoteActor.domain).in_(bindparam("domains", expanding=True)),
        col(RemoteActor.type).in_(("Application", "Service")),
    )
