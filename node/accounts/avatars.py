"""Profile pictures: an upload made safe by :mod:`node.core.images` (decoded, turned upright, cropped
to a centred square, resized, re-encoded without metadata), stored under ``<data_dir>/avatars/`` by the
hash of its content, which is also its URL. Pictures of people of other servers are kept in the same
folder (see :mod:`node.activitypub.actors.icons`)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from node.accounts.models import User
from node.core import images
from node.core.images import MSG_EMPTY, MSG_NOT_IMAGE, MSG_TOO_BIG
from node.core.timeutil import utcnow
from node.settings import Settings

__all__ = ["MSG_EMPTY", "MSG_NOT_IMAGE", "MSG_TOO_BIG", "SIZE", "normalise", "set_avatar", "url_of"]

SIZE = 256  # pixels on each side
FOLDER = "avatars"
MEDIA_TYPE = "image/jpeg"


def folder(settings: Settings) -> Path:
    return settings.data_dir / FOLDER


def path_of(settings: Settings, digest: str) -> Path | None:
    """The stored picture ``digest`` (``None`` for anything that is not one of our names)."""
    return images.stored(folder(settings), digest)


def path_for(digest: str) -> str:
    """The address of the stored picture ``digest`` on this node."""
    return f"/avatars/{digest}.jpg"


def url_of(user: User) -> str | None:
    return path_for(user.avatar) if user.avatar else None


def public_url(settings: Settings, user: User) -> str | None:
    """The absolute address of ``user``'s picture (their actor's ``icon``), or None."""
    return settings.url(path_for(user.avatar)) if user.avatar else None


def normalise(data: bytes, *, max_bytes: int) -> bytes:
    """The square JPEG made from the upload ``data``; :class:`ValidationFailed` (field ``avatar``) for
    an empty, oversized, undecodable or disguised file."""
    return images.reencode(data, max_bytes=max_bytes, size=SIZE, square=True, field="avatar")


def set_avatar(settings: Settings, user: User, data: bytes, *, session: Session) -> str:
    """Store ``data`` (an upload) as ``user``'s picture; its content hash."""
    digest = images.store(folder(settings), normalise(data, max_bytes=settings.max_body_bytes))
    user.avatar = digest
    user.updated_at = utcnow()
    session.add(user)
    return digest


def remove_avatar(user: User, *, session: Session) -> None:
    """Show no picture for ``user`` any more (the file stays: another account may have the same one)."""
    user.avatar = None
    user.updated_at = utcnow()
    session.add(user)
