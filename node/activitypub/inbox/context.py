"""What a handler of a stored activity works with, and what it may answer.

Handlers are synchronous functions of a :class:`ProcessingContext` and the typed activity
(:class:`node.activitypub.vocab.Activity`, read once from the stored row, where embedded objects of
another origin than the signer were replaced by their id). A handler may raise :class:`NeedsFetch`
when it needs a remote document or actor: the transaction is rolled back, the job fetches it outside
any transaction, and the handler runs again with the document in ``ctx.fetched``. Otherwise::

    return Outcome.DONE            the activity took effect          -> done
    return Outcome.IGNORED         nothing to do for this handler    -> ignored (if no handler did it)
    raise PermanentFailure         it can never be processed         -> failed
    raise any other exception      perhaps transient                 -> retried with backoff, then failed
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.models import InboxActivity, RemoteActor
from node.settings import Settings


class Outcome(StrEnum):
    DONE = "done"
    IGNORED = "ignored"


class NeedsFetch(Exception):  # noqa: N818 - a request to the job, not an error
    """The handler needs ``uri`` from its origin: an actor (stored in the cache) or any object."""

    def __init__(self, uri: str, *, actor: bool = False, refresh: bool = False) -> None:
        super().__init__(f"needs {uri}")
        self.uri = uri
        self.actor = actor
        self.refresh = refresh


class PermanentFailure(Exception):
    """The activity can never be processed (inconsistent, refers to what does not exist...)."""


@dataclass
class ProcessingContext:
    """What a handler gets: the transaction, the settings, the stored row and fetched documents.
    ``announced_by`` is the group whose ``Announce`` carried the activity (FEP-1b12), else None."""

    session: Session
    settings: Settings
    row: InboxActivity
    fetched: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    announced_by: str | None = None

    def announced(self, activity: Mapping[str, Any], actor: str) -> ProcessingContext:
        """The context of ``activity`` (by ``actor``, verified by its origin) that the signer, a group,
        announced: handlers see ``actor`` as its author, and ``announced_by`` the group. Nothing is
        stored for it: it lives in this transaction."""
        row = InboxActivity(
            activity_id=str(activity.get("id")),
            actor_uri=actor,
            type=str(activity.get("type"))[:40],
            payload=json.dumps(activity, ensure_ascii=False),
            key_id=self.row.key_id,
            recipient_user_id=self.row.recipient_user_id,
            received_at=self.row.received_at,
        )
        return replace(self, row=row, announced_by=self.row.actor_uri)

    @property
    def actor_uri(self) -> str:
        """The verified signer of the activity."""
        return self.row.actor_uri

    def document(self, uri: str) -> dict[str, Any]:
        """The document at ``uri``, fetched from its origin (raises :class:`NeedsFetch` the first time)."""
        if uri not in self.fetched:
            raise NeedsFetch(uri)
        return self.fetched[uri]

    def actor(self, uri: str) -> RemoteActor:
        """The cached remote actor ``uri``, fetched into the cache first when unknown."""
        row = self.session.exec(
            select(RemoteActor).where(col(RemoteActor.uri) == uri, col(RemoteActor.gone_at).is_(None))
        ).first()
        if row is None:
            if uri in self.fetched:
                raise PermanentFailure(f"{uri} could not be stored")
            raise NeedsFetch(uri, actor=True)
        return row

    def refresh_actor(self, uri: str) -> None:
        """Ask for ``uri`` to be refetched into the cache once during this processing."""
        if uri not in self.fetched:
            raise NeedsFetch(uri, actor=True, refresh=True)
