"""Our own actors and the URL layout every ActivityPub id of this node derives from.

- the node itself: an ``Application`` at ``/actor`` (signs fetches, follows other nodes and relays);
- each person: a ``Person`` at ``/users/{username}``;
- each micro-organisation: a ``Group`` at ``/groups/{name}`` (FEP-1b12);
- with ``/inbox`` (shared inbox), ``.../inbox``, ``.../outbox``, ``.../followers``, ``.../following``,
  keys at ``<actor>#main-key`` and activities at ``/activities/{uuid}``.

The protocol does not know the accounts package: it reads a person through :class:`Account` (what an
account looks like to it) and finds people through :class:`Accounts`, which the node passes in
(``node.accounts.actors.DIRECTORY``). Groups are read the same way, through :class:`Group` and
:class:`Groups` (``node.groups.actors.DIRECTORY``), which the composition passes in explicitly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import Session

from node.activitypub import addressing, keys
from node.activitypub.signatures import HttpSignatureAuth
from node.settings import Settings

NODE_ACTOR_PATH = "/actor"
NODE_USERNAME = "node"
SHARED_INBOX_PATH = "/inbox"
GROUPS_PATH = "/groups"


class Account(Protocol):
    """A person's account as the protocol reads it."""

    @property
    def pk(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def bio(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def approve_followers(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...


class Accounts(Protocol):
    """Where the protocol finds the people of this node."""

    def find(self, username: str, *, session: Session, active_only: bool = True) -> Account | None:
        """The account called ``username`` (only when active, unless ``active_only`` is false)."""
        ...


class Group(Protocol):
    """A micro-organisation (a ``Group`` actor) as the protocol reads it."""

    @property
    def pk(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def is_active(self) -> bool: ...


class Groups(Protocol):
    """Where the protocol finds the groups of this node."""

    def find(self, name: str, *, session: Session, active_only: bool = True) -> Group | None:
        """The group called ``name`` (only when active, unless ``active_only`` is false)."""
        ...


@dataclass(frozen=True)
class LocalActor:
    """An actor of this node: the node's Application, a person's Person or a group's Group.
    ``approves_followers``: a follow waits for the person's answer (the node actor and groups accept
    every follow)."""

    uri: str
    kind: Literal["Person", "Application", "Group"]
    username: str
    key_owner: str
    user_id: int | None = None
    approves_followers: bool = False

    @property
    def key_id(self) -> str:
        return self.uri + "#main-key"

    @property
    def inbox(self) -> str:
        return self.uri + "/inbox"

    @property
    def outbox(self) -> str:
        return self.uri + "/outbox"

    @property
    def followers(self) -> str:
        return self.uri + "/followers"

    @property
    def following(self) -> str:
        return self.uri + "/following"


def person(settings: Settings, account: Account) -> LocalActor:
    """The ``Person`` actor of ``account``."""
    return LocalActor(
        uri=settings.url(f"/users/{account.username}"),
        kind="Person",
        username=account.username,
        key_owner=keys.user_owner(account.pk),
        user_id=account.pk,
        approves_followers=account.approve_followers,
    )


def node_actor(settings: Settings) -> LocalActor:
    return LocalActor(
        uri=settings.url(NODE_ACTOR_PATH),
        kind="Application",
        username=NODE_USERNAME,
        key_owner=keys.NODE_OWNER,
    )


def group(settings: Settings, name: str) -> LocalActor:
    """The ``Group`` actor of the group called ``name``; its key is owned by ``group:<name>`` (group names,
    like usernames, are never reused), so the actor follows from its URI alone."""
    return LocalActor(
        uri=settings.url(f"{GROUPS_PATH}/{name}"),
        kind="Group",
        username=name,
        key_owner=keys.group_owner(name),
    )


def shared_inbox(settings: Settings) -> str:
    return settings.url(SHARED_INBOX_PATH)


def new_activity_id(settings: Settings) -> str:
    """A fresh id for an activity published by this node."""
    return settings.url(f"/activities/{uuid.uuid4()}")


def is_local(settings: Settings, uri: str) -> bool:
    """Whether ``uri`` is one of this node's (same scheme, host and port as its base URL)."""
    return addressing.origin(uri) == addressing.origin(settings.base_url)


def local_username(settings: Settings, uri: str) -> str | None:
    """The username of a local person's actor URI, or None."""
    if not is_local(settings, uri):
        return None
    path = urlsplit(uri).path
    if path.startswith("/users/"):
        name = path[len("/users/") :]
        if name and "/" not in name:
            return name
    return None


def local_group_name(settings: Settings, uri: str) -> str | None:
    """The name of a local group's actor URI, or None."""
    if not is_local(settings, uri):
        return None
    path = urlsplit(uri).path
    prefix = GROUPS_PATH + "/"
    if path.startswith(prefix):
        name = path[len(prefix) :]
        if name and "/" not in name:
            return name
    return None


def actor_at(
    settings: Settings,
    uri: str,
    *,
    session: Session,
    accounts: Accounts,
    active_only: bool = True,
    groups: Groups | None = None,
) -> LocalActor | None:
    """Our actor at ``uri``: the node, a person, or (when ``groups`` is given) a group; only an active
    person or group, unless ``active_only`` is false."""
    if uri == settings.url(NODE_ACTOR_PATH):
        return node_actor(settings)
    name = local_group_name(settings, uri)
    if name is not None:
        found = groups.find(name, session=session, active_only=active_only) if groups is not None else None
        return group(settings, found.name) if found is not None else None
    username = local_username(settings, uri)
    if username is None:
        return None
    account = accounts.find(username, session=session, active_only=active_only)
    return person(settings, account) if account is not None else None


@lru_cache(maxsize=1024)
def _decrypt(blob: str, secret: str) -> rsa.RSAPrivateKey:
    return keys.decrypt_private_key(blob, secret)


def private_key(settings: Settings, actor: LocalActor, *, session: Session) -> rsa.RSAPrivateKey:
    """The current private key of ``actor`` (created on first use), decrypted once per process."""
    row = keys.ensure_key(
        actor.key_owner, settings.effective_secret_key, user_id=actor.user_id, session=session
    )
    return _decrypt(row.private_encrypted, settings.effective_secret_key)


def signer(settings: Settings, actor: LocalActor, *, session: Session) -> HttpSignatureAuth:
    """An ``httpx.Auth`` signing requests as ``actor``."""
    return HttpSignatureAuth(key_id=actor.key_id, private_key=private_key(settings, actor, session=session))
