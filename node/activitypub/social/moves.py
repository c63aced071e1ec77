"""An account that moves to another server (``Move``), as Mastodon does it.

``Move`` by the old account, ``object`` itself, ``target`` the new account. It counts only when the new
account, fetched from its origin, lists the old one in ``alsoKnownAs`` (the proof that both belong to the
same person; Mastodon checks the same before moving followers). Then each of our people who followed
the old account follows the new one (``Follow`` sent, ``Undo(Follow)`` to the old account), without
counting against their daily follow limit: they did not ask for it, the person who moved did.
A ``Move`` whose target does not list the source is refused and changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from node.activitypub.actors import local
from node.activitypub.actors.local import Accounts
from node.activitypub.addressing import id_of
from node.activitypub.inbox.context import Outcome, PermanentFailure, ProcessingContext
from node.activitypub.social import follows
from node.activitypub.vocab import Activity

log = logging.getLogger("asasap.federation")


def also_known_as(document: Mapping[str, Any]) -> set[str]:
    """The ids an actor document lists in ``alsoKnownAs`` (a string, a list, or objects with ids)."""
    value = document.get("alsoKnownAs", document.get("as:alsoKnownAs"))
    items = value if isinstance(value, list) else [value]
    return {found for item in items if (found := id_of(item)) is not None}


def document_of(raw: str) -> Mapping[str, Any]:
    """A cached actor document (``RemoteActor.raw``) as a mapping; empty when it is not one."""
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, Mapping) else {}


def is_move_of_self(ctx: ProcessingContext, activity: Activity) -> bool:
    """A ``Move`` of the signer's own account (to a ``target``)."""
    return activity.type == "Move" and activity.object_id == ctx.actor_uri


def on_move(ctx: ProcessingContext, activity: Activity, *, accounts: Accounts) -> Outcome:
    """Move our people's follows of the signer to its new account (see the module docs)."""
    source = ctx.actor_uri
    target = activity.target_id
    if target is None or target == source:
        raise PermanentFailure("a Move needs a target other than the account itself")
    if local.is_local(ctx.settings, target):
        raise PermanentFailure("a Move to one of our accounts is not one a remote server may make")
    new_account = ctx.actor(target)
    if source not in also_known_as(document_of(new_account.raw)):
        ctx.refresh_actor(target)  # the cached copy may predate the alias: read it again from its origin
        log.info("Move of %s to %s refused: the target does not list the source", source, target)
        raise PermanentFailure(f"{target} does not list {source} in alsoKnownAs")
    moved = 0
    for row in follows.local_follows_of(source, session=ctx.session):
        follower = local.actor_at(ctx.settings, row.follower_uri, session=ctx.session, accounts=accounts)
        if follower is None:
            continue
        follows.unfollow(ctx.settings, session=ctx.session, follower=follower, target_uri=source)
        if follows.find_follow(follower.uri, target, session=ctx.session) is None:
            follows.follow(
                ctx.settings, session=ctx.session, follower=follower, target=new_account, counted=False
            )
        moved += 1
    log.info("Move of %s to %s: %d follows moved", source, target, moved)
    return Outcome.DONE
