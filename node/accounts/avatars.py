"""Profile pictures. An upload is decoded by Pillow (JPEG, PNG or WebP only, its first bytes matching
the format it claims), turned upright, cropped to a centred square, resized and re-encoded as a new JPEG:
nothing of the original file survives (no EXIF, no GPS position, no bytes appended to the image, so a
file that is also something else is either refused or reduced to its pixels). The result is stored under
``<data_dir>/avatars/`` by the hash of its content, which is also its URL, so that it can be cached
for ever and a change of picture is a new address."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import Session

from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.core.timeutil import utcnow
from node.settings import Settings

SIZE = 256  # pixels on each side
MAX_PIXELS = 40_000_000  # decoded size refused beyond this (a small file can decode to gigabytes)
QUALITY = 85
FOLDER = "avatars"
ACCEPTED = {"JPEG": (b"\xff\xd8\xff",), "PNG": (b"\x89PNG\r\n\x1a\n",), "WEBP": (b"RIFF",)}
HASH_LENGTH = 32

MSG_EMPTY = N_("Choose a picture.")
MSG_TOO_BIG = N_("The picture is too large.")
MSG_NOT_IMAGE = N_("This file is not a JPEG, PNG or WebP picture.")


def folder(settings: Settings) -> Path:
    return settings.data_dir / FOLDER


def path_of(settings: Settings, digest: str) -> Path | None:
    """The stored picture ``digest`` (``None`` for anything that is not one of our names)."""
    if len(digest) != HASH_LENGTH or any(c not in "0123456789abcdef" for c in digest):
        return None
    return folder(settings) / f"{digest}.jpg"


def url_of(user: User) -> str | None:
    return f"/avatars/{user.avatar}.jpg" if user.avatar else None


def normalise(data: bytes, *, max_bytes: int) -> bytes:
    """The square JPEG made from the upload ``data``; :class:`ValidationFailed` (field ``avatar``) for
    an empty, oversized, undecodable or disguised file."""
    if not data:
        raise ValidationFailed(MSG_EMPTY, fields={"avatar": MSG_EMPTY})
    if len(data) > max_bytes:
        raise ValidationFailed(MSG_TOO_BIG, fields={"avatar": MSG_TOO_BIG})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ACCEPTED)) as image:
                if image.format not in ACCEPTED or not data.startswith(ACCEPTED[image.format]):
                    raise ValidationFailed(MSG_NOT_IMAGE, fields={"avatar": MSG_NOT_IMAGE})
                if image.width * image.height > MAX_PIXELS:
                    raise ValidationFailed(MSG_TOO_BIG, fields={"avatar": MSG_TOO_BIG})
                image.load()
                upright = ImageOps.exif_transpose(image)
                square = ImageOps.fit(upright.convert("RGB"), (SIZE, SIZE), Image.Resampling.LANCZOS)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise ValidationFailed(MSG_NOT_IMAGE, fields={"avatar": MSG_NOT_IMAGE}) from None
    out = io.BytesIO()
    square.save(out, format="JPEG", quality=QUALITY, optimize=True)  # no exif=...: none is written
    return out.getvalue()


def set_avatar(settings: Settings, user: User, data: bytes, *, session: Session) -> str:
    """Store ``data`` (an upload) as ``user``'s picture; its content hash."""
    picture = normalise(data, max_bytes=settings.max_body_bytes)
    digest = hashlib.sha256(picture).hexdigest()[:HASH_LENGTH]
    target = folder(settings) / f"{digest}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(picture)
        os.replace(temporary, target)
    user.avatar = digest
    user.updated_at = utcnow()
    session.add(user)
    return digest


def remove_avatar(user: User, *, session: Session) -> None:
    """Show no picture for ``user`` any more (the file stays: another account may have the same one)."""
    user.avatar = None
    user.updated_at = utcnow()
    session.add(user)
