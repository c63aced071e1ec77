"""Pictures received from people or from other servers, made safe to store and show.

An image is decoded by Pillow (JPEG, PNG or WebP only, its first bytes matching the format it claims),
turned upright, cropped to a square or fitted in a box, and re-encoded as a new JPEG: nothing of the
original file survives (no EXIF, no GPS position, no bytes appended to the image, so a file that is
also something else is either refused or reduced to its pixels). Stored pictures are named by the hash
of their content, so they can be cached for ever and a change of picture is a new address.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from node.core.errors import N_, ValidationFailed

MAX_PIXELS = 40_000_000  # decoded size refused beyond this (a small file can decode to gigabytes)
QUALITY = 85
ACCEPTED = {"JPEG": (b"\xff\xd8\xff",), "PNG": (b"\x89PNG\r\n\x1a\n",), "WEBP": (b"RIFF",)}
MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
HASH_LENGTH = 32

MSG_EMPTY = N_("Choose a picture.")
MSG_TOO_BIG = N_("The picture is too large.")
MSG_NOT_IMAGE = N_("This file is not a JPEG, PNG or WebP picture.")


def _refuse(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: message})


def reencode(data: bytes, *, max_bytes: int, size: int, square: bool, field: str = "image") -> bytes:
    """A new JPEG made from ``data``: a ``size``-pixel square (``square``), or fitted within
    ``size`` × ``size`` keeping its proportions (never enlarged). :class:`ValidationFailed` (naming
    ``field``) for an empty, oversized, undecodable or disguised file."""
    if not data:
        raise _refuse(MSG_EMPTY, field)
    if len(data) > max_bytes:
        raise _refuse(MSG_TOO_BIG, field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ACCEPTED)) as image:
                if image.format not in ACCEPTED or not data.startswith(ACCEPTED[image.format]):
                    raise _refuse(MSG_NOT_IMAGE, field)
                if image.width * image.height > MAX_PIXELS:
                    raise _refuse(MSG_TOO_BIG, field)
                image.load()
                upright = ImageOps.exif_transpose(image).convert("RGB")
                if square:
                    result = ImageOps.fit(upright, (size, size), Image.Resampling.LANCZOS)
                else:
                    result = upright.copy()
                    result.thumbnail((size, size), Image.Resampling.LANCZOS)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise _refuse(MSG_NOT_IMAGE, field) from None
    out = io.BytesIO()
    result.save(out, format="JPEG", quality=QUALITY, optimize=True)  # no exif=...: none is written
    return out.getvalue()


def digest_of(picture: bytes) -> str:
    return hashlib.sha256(picture).hexdigest()[:HASH_LENGTH]


def is_digest(value: str) -> bool:
    return len(value) == HASH_LENGTH and all(c in "0123456789abcdef" for c in value)


def store(folder: Path, picture: bytes) -> str:
    """Write ``picture`` (a re-encoded JPEG) under ``folder`` by its content hash; the hash."""
    digest = digest_of(picture)
    target = folder / f"{digest}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(picture)
        os.replace(temporary, target)
    return digest


def stored(folder: Path, digest: str) -> Path | None:
    """The file of the stored picture ``digest`` (``None`` for anything that is not one of our names)."""
    return folder / f"{digest}.jpg" if is_digest(digest) else None
