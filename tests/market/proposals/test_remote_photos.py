"""Photos of other nodes' proposals: stored with the proposal as addresses, copied by the worker job
from a real HTTP server on loopback through the guarded fetcher (re-encoded, no metadata), shown with
their text (or "<title> (photo n)" when they have none); a picture that is not one is skipped, one that
cannot be had now is tried again later, and the proposal stays either way."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.activitypub.actors.remote import RemoteActors
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.market.proposals import federation as proposal_federation
from node.market.proposals import photos
from node.market.proposals.remote_photos import MAX_TRIES, RemotePhotosJob
from node.market.vocab import proposal_from_json
from node.settings import Settings
from tests.support.actors import ActorServer, Reply, actor_server_fixture, loopback_settings_fixture
from tests.support.market import proposal_document

__all__ = ["actor_server_fixture", "loopback_settings_fixture"]

B = "https://b.example"
BOB = B + "/users/bob"


def _jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (2000, 1000), (30, 120, 60)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _receive(settings: Settings, engine: Engine, attachment: Any, **changes: Any) -> Proposal:
    doc = proposal_from_json(proposal_document(BOB, B + "/proposals/1", attachment=attachment, **changes))
    with session_scope(engine, write=True) as session:
        proposal_federation.store_remote(settings, doc, signer=BOB, session=session)
    return _row(engine)


def _row(engine: Engine) -> Proposal:
    with Session(engine) as session:
        return session.exec(select(Proposal).where(col(Proposal.ap_id) == B + "/proposals/1")).one()


def _run(settings: Settings, engine: Engine) -> int:
    async def once() -> int:
        remote = RemoteActors(settings, engine)
        try:
            return await RemotePhotosJob(settings, engine, remote).run_once()
        finally:
            await remote.aclose()

    return asyncio.run(once())


def _due_now(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        row = session.exec(select(Proposal)).one()
        row.photos_due_at = utcnow() - timedelta(seconds=1)
        session.add(row)


def test_remote_photos_are_copied_safely_and_shown_with_a_text(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    actor_server.routes["/table.jpg"] = Reply(body=_jpeg_with_exif(), content_type="image/jpeg")
    actor_server.routes["/fake.png"] = Reply(body=b"GIF89a<script>x</script>", content_type="image/png")
    table = actor_server.url("/table.jpg")
    attachment = [
        {"type": "Image", "mediaType": "image/jpeg", "url": table, "name": "Une table"},
        {"type": "Document", "mediaType": "image/jpeg", "url": actor_server.url("/table.jpg?2")},  # Mastodon
        {"type": "Image", "url": actor_server.url("/fake.png"), "name": "Pas une image"},
        {"type": "Video", "url": actor_server.url("/film.mp4")},  # not a picture: not kept
        {"type": "Image", "url": "javascript:alert(1)"},
        {"type": "Image", "url": actor_server.url("/five.jpg")},  # a fifth picture: over the limit
        {"type": "Image", "url": actor_server.url("/six.jpg")},
    ]
    row = _receive(loopback_settings, engine, attachment)
    assert row.photos_due_at is not None and photos.photos_of(row) == []  # stored now, copied later
    assert [e["url"].rsplit("/", 1)[1] for e in photos.entries_of(row)] == [
        "table.jpg",
        "table.jpg?2",
        "fake.png",
        "five.jpg",
    ]

    assert _run(loopback_settings, engine) == 1
    row = _row(engine)
    shown = photos.photos_of(row)
    assert [p.name for p in shown] == ["Une table", f"{row.title} (photo 2)"]
    assert shown[0].digest == shown[1].digest  # the same picture, one copy
    copy = loopback_settings.data_dir / "photos" / f"{shown[0].digest}.jpg"
    with Image.open(copy) as picture:
        assert picture.format == "JPEG" and max(picture.size) == photos.SIZE and not picture.getexif()
    assert b"PhoneMaker" not in copy.read_bytes()
    skipped = {e["url"].rsplit("/", 1)[1]: e.get("skipped") for e in photos.entries_of(row)}
    assert skipped == {"table.jpg": None, "table.jpg?2": None, "fake.png": True, "five.jpg": True}
    assert row.photos_due_at is None and _run(loopback_settings, engine) == 0

    # An update keeps the copies of the same addresses, and is not fetched again.
    before = actor_server.hits("/table.jpg")
    row = _receive(loopback_settings, engine, attachment[:1], updated=(utcnow()).isoformat())
    assert row.photos_due_at is None and [p.name for p in photos.photos_of(row)] == ["Une table"]
    assert actor_server.hits("/table.jpg") == before


def test_a_photo_that_cannot_be_had_is_retried_then_skipped(
    actor_server: ActorServer, loopback_settings: Settings, engine: Engine
) -> None:
    actor_server.routes["/busy.jpg"] = Reply(status=503, body=b"busy", content_type="text/plain")
    row = _receive(loopback_settings, engine, {"type": "Image", "url": actor_server.url("/busy.jpg")})
    for attempt in range(1, MAX_TRIES + 1):
        _due_now(engine)
        assert _run(loopback_settings, engine) == 1
        row = _row(engine)
        [entry] = photos.entries_of(row)
        assert entry["tries"] == attempt and "digest" not in entry
        if attempt < MAX_TRIES:
            assert row.photos_due_at is not None and row.photos_due_at > utcnow()
    assert entry["skipped"] is True and row.photos_due_at is None
    assert row.state == "open" and photos.photos_of(row) == []  # the proposal stays, without the photo
    assert json.loads(row.raw or "{}")["attachment"]["url"].endswith("/busy.jpg")
