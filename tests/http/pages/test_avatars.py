"""Profile pictures through the pages: upload from the profile form, shown on the profile and the Me
page, served by content hash; a bad file changes nothing; removal."""

from __future__ import annotations

import io
import json

from PIL import Image
from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.testclient import TestClient

from node.accounts import service
from node.activitypub.models import OutboxActivity
from node.core import db
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.market import make_proposal
from tests.support.pages import csrf, login


def _jpeg() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (500, 300), (20, 90, 160)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _avatar(engine: Engine) -> str | None:
    with db.session_scope(engine) as s:
        return service.get_user("alice", session=s).avatar


def test_upload_show_serve_and_remove(client: TestClient, engine: Engine, settings: Settings) -> None:
    make_user(engine, "alice")
    login(client, "alice")
    token = csrf(client, "/settings/profile", "/settings/avatar")

    refused = client.post(
        "/settings/avatar",
        data={"csrf_token": token},
        files={"avatar": ("x.jpg", b"GIF89a...", "image/jpeg")},
    )
    assert refused.status_code == 422 and "pas une image JPEG, PNG ou WebP" in refused.text
    assert 'aria-invalid="true"' in refused.text and _avatar(engine) is None

    saved = client.post(
        "/settings/avatar",
        data={"csrf_token": token},
        files={"avatar": ("moi.jpg", _jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/settings/profile?avatar=saved"
    digest = _avatar(engine)
    assert digest is not None and len(digest) == 32
    src = f"/avatars/{digest}.jpg"
    assert src in client.get("/users/alice").text and src in client.get("/me").text
    served = client.get(src)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"] and b"PhoneMaker" not in served.content
    assert client.get("/avatars/" + "0" * 32 + ".jpg").status_code == 404

    # Other servers see it as the actor's icon, and hear of the change.
    actor = client.get("/users/alice", headers={"Accept": "application/activity+json"}).json()
    assert actor["icon"] == {"type": "Image", "mediaType": "image/jpeg", "url": "http://testserver" + src}
    with db.session_scope(engine) as s:
        updates = s.exec(select(OutboxActivity).where(col(OutboxActivity.type) == "Update")).all()
        icons = [json.loads(u.payload)["object"].get("icon", {}).get("url", "") for u in updates]
        assert any(url.endswith(src) for url in icons)

    # Their picture is beside their name on their offers.
    with db.session_scope(engine) as s:
        make_proposal(s, settings, service.get_user("alice", session=s), purpose="offer")
    assert src in client.get("/proposals").text
    assert client.get("/avatars/..%2Fsecret.jpg").status_code == 404

    assert client.post("/settings/avatar", data={"csrf_token": "forged"}).status_code == 403
    removed = client.post(
        "/settings/avatar", data={"csrf_token": token, "remove": "1"}, follow_redirects=False
    )
    assert removed.status_code == 303 and _avatar(engine) is None
    assert src not in client.get("/users/alice").text
