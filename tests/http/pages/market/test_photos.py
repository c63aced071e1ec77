"""Photos of offers and demands: uploaded with the form, made safe (format sniffed, upright, resized,
no metadata), shown on the page and as a thumbnail on cards, federated as ``attachment`` images; bad
files are refused with the form again and nothing stored."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.market.models import Proposal
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.market import PROPOSAL_FORM
from tests.support.pages import csrf, login

AS = {"Accept": "application/activity+json"}


def _photo(size: tuple[int, int] = (2000, 1000), orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    if orientation is not None:
        exif[0x0112] = orientation
    Image.new("RGB", size, (30, 120, 60)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _post(client: TestClient, path: str, files: list[tuple[str, Any]], **fields: str) -> Any:
    token = csrf(client, path, path)
    return client.post(
        path, data={"csrf_token": token, **PROPOSAL_FORM, **fields}, files=files, follow_redirects=False
    )


def _rows(engine: Engine) -> list[Proposal]:
    with Session(engine) as session:
        return list(session.exec(select(Proposal)).all())


def test_photos_are_stored_safely_shown_and_federated(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    make_user(engine, "alice")
    login(client, "alice")
    files = [
        ("photos", ("a.jpg", _photo(orientation=6), "image/jpeg")),
        ("photos", ("b.jpg", _photo(), "image/jpeg")),
    ]
    created = _post(client, "/proposals/new", files, photos_alt="Une table repassée")
    assert created.status_code == 303, created.text
    path = created.headers["location"].split("?")[0].removeprefix("http://testserver")

    page = client.get(path).text
    assert 'alt="Une table repassée (1/2)"' in page and 'alt="Une table repassée (2/2)"' in page
    srcs = sorted(set(src for src in page.split('src="')[1:] if src.startswith("/photos/")))
    first = srcs[0].split('"')[0]
    served = client.get(first)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in served.content
    with Image.open(io.BytesIO(served.content)) as picture:
        assert max(picture.size) == 1280 and not picture.getexif()
    sizes = set()
    for src in srcs:
        with Image.open(io.BytesIO(client.get(src.split('"')[0]).content)) as picture:
            sizes.add(picture.size)
    assert sizes == {(640, 1280), (1280, 640)}  # the rotated one is upright

    assert 'class="thumb"' in client.get("/me/proposals").text  # thumbnail on the card

    document = client.get(path, headers=AS).json()
    attachment = document["attachment"]
    assert [a["type"] for a in attachment] == ["Image", "Image"]
    assert all(a["mediaType"] == "image/jpeg" for a in attachment)
    assert all(a["url"].startswith("http://testserver/photos/") for a in attachment)
    assert attachment[0]["name"] == "Une table repassée (1/2)"

    assert client.get("/photos/" + "0" * 32 + ".jpg").status_code == 404
    assert client.get("/photos/..%2Fx.jpg").status_code == 404

    # Editing without new photos keeps them; removing them drops them.
    kept = _post(client, path + "/edit", [], lifetime_days="")
    assert kept.status_code == 303 and "attachment" in client.get(path, headers=AS).json()
    dropped = _post(client, path + "/edit", [], lifetime_days="", remove_photos="1")
    assert dropped.status_code == 303 and "attachment" not in client.get(path, headers=AS).json()


def test_bad_photos_are_refused_and_nothing_is_stored(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    make_user(engine, "alice")
    login(client, "alice")
    polyglot = _photo()[:20] + b"<?php echo 1; ?>"
    not_image = "pas une image JPEG, PNG ou WebP"
    for files, fields, message in [
        ([("photos", ("x.jpg", b"%PDF-1.7 not a picture", "image/jpeg"))], {"photos_alt": "x"}, not_image),
        ([("photos", ("x.jpg", polyglot, "image/jpeg"))], {"photos_alt": "x"}, not_image),
        ([("photos", ("x.jpg", _photo(), "image/jpeg"))], {}, "ce que montrent les photos"),
        (
            [("photos", (f"{n}.jpg", _photo((50, 50)), "image/jpeg")) for n in range(5)],
            {"photos_alt": "x"},
            "4 photos au plus",
        ),
    ]:
        refused = _post(client, "/proposals/new", files, **fields)
        assert refused.status_code == 422, refused.text
        assert message in refused.text and 'aria-invalid="true"' in refused.text
    assert _rows(engine) == []
    assert not (settings.data_dir / "photos").exists()
