"""Photos of an offer or demand: at most :data:`MAX_PHOTOS`, each made safe by
:mod:`node.core.images` (format sniffed, turned upright, fitted in :data:`SIZE` pixels, re-encoded as a
JPEG without metadata), stored under ``<data_dir>/photos/`` by content hash and served at
``/photos/<hash>.jpg``. Each has a text saying what it shows (its ``name`` on the wire: alt text for
people who do not see it). They travel as ``attachment`` ``Image`` objects of the proposal.

Photos of proposals of other nodes are copied by this node (:mod:`node.market.proposals.remote_photos`)
into the same folder: until a copy is made (or when it cannot be), the photo is not shown. A remote
photo without a ``name`` is shown with the proposal's title and its number as text, "<title> (photo n)",
so that no picture is ever shown without one."""

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


def entries_of(row: Proposal) -> list[dict[str, Any]]:
    """What :attr:`Proposal.photos` holds, read leniently (nothing for anything unexpected)."""
    if not row.photos or row.photos == "[]":  # most proposals: no JSON to parse for every listed row
        return []
    try:
        entries: Any = json.loads(row.photos or "[]")
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, dict)][:MAX_PHOTOS]


def photos_of(row: Proposal) -> list[Photo]:
    """The photos to show for a proposal: its own for one of this node, our copies for another's (those
    not copied yet are left out); each with a text saying what it shows."""
    return [
        Photo(entry["digest"], str(entry.get("name") or "") or f"{row.title} (photo {number})")
        for number, entry in enumerate(entries_of(row), start=1)
        if images.is_digest(str(entry.get("digest", "")))
    ]


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


def _link(value: Any) -> str | None:
    """The address of an ``attachment``'s ``url`` (a string, a ``Link``, or a list of them)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("href")
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2048:
        return value
    return None


def remote_entries(attachment: Any) -> list[dict[str, Any]]:
    """The pictures among a remote proposal's ``attachment`` (at most :data:`MAX_PHOTOS`): ``Image``s,
    and ``Document``s of a picture type (Mastodon sends its media as ``Document``); ``url`` and ``name``
    (plain text, or None) of each."""
    found: list[dict[str, Any]] = []
    for item in attachment if isinstance(attachment, list) else [attachment]:
        if not isinstance(item, dict) or len(found) == MAX_PHOTOS:
            continue
        kind, media = item.get("type"), item.get("mediaType")
        if kind not in ("Image", "Document") or (media is not None and media not in images.MEDIA_TYPES):
            continue
        if kind == "Document" and media is None:
            continue
        url = _link(item.get("url"))
        if url is None:
            continue
        name = item.get("name")
        text = " ".join(name.split())[:MAX_ALT] if isinstance(name, str) else ""
        found.append({"url": url, "name": text or None})
    return found


def remote_column(attachment: Any, previous: Proposal) -> tuple[str | None, bool]:
    """What :attr:`Proposal.photos` holds for the ``attachment`` of a remote proposal (copies already
    made of the same addresses kept), and whether some photo is still to be copied."""
    kept = {entry.get("url"): entry for entry in entries_of(previous) if "url" in entry}
    entries = []
    for entry in remote_entries(attachment):
        before = kept.get(entry["url"], {})
        entries.append({**{k: v for k, v in before.items() if k in ("digest", "tries", "skipped")}, **entry})
    due = any("digest" not in entry and not entry.get("skipped") for entry in entries)
    return (json.dumps(entries, ensure_ascii=False) if entries else None), due
