"""Photos of an offer or demand: at most :data:`MAX_PHOTOS`, each made safe by
:mod:`node.core.images` (format sniffed, turned upright, fitted in :data:`SIZE` pixels, re-encoded as a
JPEG without metadata), stored under ``<data_dir>/photos/`` by content hash and served at
``/photos/<hash>.jpg``. Each has a text saying what it shows (its ``name`` on the wire: alt text for
people who do not see it). They travel as ``attachment`` ``Image`` objects of the proposal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.core import images
from node.core.errors import N_, ValidationFailed
from node.market.models import Proposal
from node.settings import Settings

MAX_PHOTOS = 4
SIZE = 1280  # longest side, in pixels
FOLDER = "photos"
MAX_ALT = 300
MEDIA_TYPE = "image/jpeg"

MSG_TOO_MANY = N_("At most 4 photos.")
MSG_ALT_REQUIRED = N_("Say in a few words what the photos show (for people who cannot see them).")


@dataclass(frozen=True)
class Photo:
    digest: str
    name: str

    @property
    def path(self) -> str:
        return f"/photos/{self.digest}.jpg"


def folder(settings: Settings) -> Path:
    return settings.data_dir / FOLDER


def path_of(settings: Settings, digest: str) -> Path | None:
    return images.stored(folder(settings), digest)


def prepare(uploads: list[bytes], alt: str, *, max_bytes: int) -> list[bytes]:
    """The re-encoded pictures of ``uploads`` (empty file fields ignored), or :class:`ValidationFailed`
    (field ``photos``, or ``photos_alt`` when they are not described) before anything is stored."""
    given = [data for data in uploads if data]
    if len(given) > MAX_PHOTOS:
        raise ValidationFailed(MSG_TOO_MANY, fields={"photos": MSG_TOO_MANY})
    if given and not alt.strip():
        raise ValidationFailed(MSG_ALT_REQUIRED, fields={"photos_alt": MSG_ALT_REQUIRED})
    return [
        images.reencode(data, max_bytes=max_bytes, size=SIZE, square=False, field="photos") for data in given
    ]


def column(pictures: list[bytes], alt: str) -> str:
    """What :attr:`Proposal.photos` holds for ``pictures`` (re-encoded, not yet written)."""
    name = " ".join(alt.split())[:MAX_ALT]
    entries = []
    for number, picture in enumerate(pictures, start=1):
        label = name if len(pictures) == 1 else f"{name} ({number}/{len(pictures)})"
        entries.append({"digest": images.digest_of(picture), "name": label})
    return json.dumps(entries, ensure_ascii=False)


def write(settings: Settings, pictures: list[bytes]) -> None:
    """Store ``pictures`` (re-encoded) under their content hash."""
    for picture in pictures:
        images.store(folder(settings), picture)


def photos_of(row: Proposal) -> list[Photo]:
    """The photos of a proposal of this node (none for others: their pictures stay on their node)."""
    try:
        entries: Any = json.loads(row.photos or "[]")
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [
        Photo(entry["digest"], str(entry.get("name", "")))
        for entry in entries
        if isinstance(entry, dict) and images.is_digest(str(entry.get("digest", "")))
    ][:MAX_PHOTOS]


def attachments(settings: Settings, row: Proposal) -> list[dict[str, Any]]:
    """The ``attachment`` of the proposal's ActivityStreams object."""
    return [
        {"type": "Image", "mediaType": MEDIA_TYPE, "url": settings.url(photo.path), "name": photo.name}
        for photo in photos_of(row)
    ]


def with_attachments(settings: Settings, row: Proposal, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (the proposal as ActivityStreams) with its photos, when it has some."""
    found = attachments(settings, row)
    if found:
        document["attachment"] = found
    return document
