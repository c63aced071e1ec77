"""Our copy of the pictures (``icon``) of actors of other servers.

A remote picture is fetched once per ``icon`` address and made safe like an uploaded one by
:func:`node.activitypub.pictures.copy_picture` (square, no metadata), kept next to the pictures of this
node's people, by content hash. Pages then show our copy: the reader's
browser never asks the other server, and a picture that is not one is never shown. A failure only
means no picture: it is logged, never raised.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import col

from node.activitypub.models import RemoteActor
from node.activitypub.pictures import copy_picture
from node.activitypub.transport.fetch import Fetcher, RemoteError
from node.core.db import session_scope
from node.core.errors import ValidationFailed
from node.settings import Settings

log = logging.getLogger("asasap.federation")

SIZE = 256  # as the pictures of this node's people
FOLDER = "avatars"  # shared with node.accounts.avatars: one address space, /avatars/<hash>.jpg


def folder(settings: Settings) -> Path:
    return settings.data_dir / FOLDER


async def fetch_icon(fetcher: Fetcher, settings: Settings, url: str) -> str | None:
    """Our copy of the picture at ``url``: its content hash, or None when it cannot be had."""
    try:
        return await copy_picture(fetcher, url, folder(settings), size=SIZE, square=True)
    except RemoteError as exc:
        log.info("no picture from %s: %s", url, exc)
        return None
    except ValidationFailed:
        log.info("no picture from %s: not a usable image", url)
        return None


def remember(engine: Engine, actor_uri: str, icon_url: str, digest: str) -> None:
    """Record ``digest`` as the picture of ``actor_uri``, unless its ``icon`` changed meanwhile."""
    with session_scope(engine, write=True) as session:
        session.execute(
            update(RemoteActor)
            .where(col(RemoteActor.uri) == actor_uri, col(RemoteActor.icon_url) == icon_url)
            .values(avatar=digest)
        )
