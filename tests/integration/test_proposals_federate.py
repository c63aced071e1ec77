"""Two real nodes on loopback: node B follows node A; an offer and a demand posted on A appear on B (API
and browse page, as remote proposals, with their author's picture copied by B from her actor's icon), a
change follows, and a withdrawal on A withdraws them on B. An offer posted on A with a photo shows on B's
own page of it with B's copy of the photo and its text.

Node B runs on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), A on SQLite.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from node.core.timeutil import utcnow
from tests.support.accounts import PASSWORD
from tests.support.market import PROPOSAL_FORM
from tests.support.nodes import AS, Node, wait_until
from tests.support.pages import form_token

pytestmark = pytest.mark.process


def remote(node: Node) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = node.ok("GET", "/proposals?origin=remote")["items"]
    return items


def set_picture(node: Node, username: str) -> None:
    """Choose a profile picture through the pages, as a person does."""
    picture = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 80, 20)).save(picture, format="PNG")
    with httpx.Client(base_url=node.url, timeout=30) as client:
        token = form_token(client.get("/login").text, "/login")
        client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
        token = form_token(client.get("/settings/profile").text, "/settings/avatar")
        saved = client.post(
            "/settings/avatar", data={"csrf_token": token}, files={"avatar": ("me.png", picture.getvalue())}
        )
        assert saved.status_code == 303, saved.text


def post_with_photo(node: Node, username: str, alt: str) -> None:
    """Post an offer with one photo through the pages, as a person does."""
    picture = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (1600, 900), (30, 120, 60)).save(picture, format="JPEG", exif=exif)
    with httpx.Client(base_url=node.url, timeout=30) as client:
        token = form_token(client.get("/login").text, "/login")
        client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
        token = form_token(client.get("/proposals/new").text, "/proposals/new")
        form = {**PROPOSAL_FORM, "title": "Table à repasser prêtée", "csrf_token": token, "photos_alt": alt}
        posted = client.post(
            "/proposals/new", data=form, files=[("photos", ("table.jpg", picture.getvalue(), "image/jpeg"))]
        )
        assert posted.status_code == 303, posted.text


def test_proposals_federate_from_a_followed_node(two_nodes: list[Node]) -> None:
    a, b = two_nodes
    a.add_person("alice")
    set_picture(a, "alice")
    b.follow_node(a)
    wait_until(
        "A accepts B's node",
        lambda: httpx.get(a.url + "/actor/followers", headers=AS).json()["totalItems"] == 1,
    )

    offer = {
        "purpose": "offer",
        "title": "Repassage en soirée",
        "description": "<p>Chemises et draps.</p>",
        "category": "laundry-delivery",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "quantity_hours": "2",
        "price": "18.50",
    }
    deadline = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT18:00")
    demand = {
        "purpose": "request",
        "title": "Courses avec ma mère",
        "category": "grocery-delivery",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "price": "40",
        "price_basis": "total",
        "bidding_deadline": deadline,
    }
    created = [a.api("POST", "/proposals", body, user="alice") for body in (offer, demand)]
    assert [r.status_code for r in created] == [201, 201], [r.text for r in created]
    ap_ids = {r.json()["ap_id"] for r in created}

    wait_until("both proposals reach B", lambda: {p["ap_id"] for p in remote(b)} == ap_ids)
    received = {p["ap_id"]: p for p in remote(b)}
    remote_offer = received[created[0].json()["ap_id"]]
    assert remote_offer["local"] is False and remote_offer["origin"] == a.url.split("://")[1]
    assert remote_offer["author"] == a.url + "/users/alice"
    assert remote_offer["price"] == {"amount": "18.50", "currency": "EUR", "basis": "per_hour"}
    assert remote_offer["commune"]["insee"] == "93048"
    remote_demand = received[created[1].json()["ap_id"]]
    assert remote_demand["purpose"] == "request" and remote_demand["bidding_deadline"] is not None
    assert b.api("GET", "/proposals?origin=local").json()["items"] == []
    page = httpx.get(b.url + "/proposals", params={"origin": "remote"}, timeout=30).text
    assert "Repassage en soirée" in page and "Courses avec ma mère" in page
    detail = httpx.get(b.url + remote_offer["url"].removeprefix(b.url), timeout=30)
    assert detail.status_code == 200 and created[0].json()["ap_id"] in detail.text
    # Her picture (her actor's icon) shows on B from B's own copy.
    copy = re.search(r'src="(/avatars/[0-9a-f]{32}\.jpg)"', detail.text)
    assert copy is not None and a.url not in copy.group(1)
    served = httpx.get(b.url + copy.group(1), timeout=10)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"

    # A change on A reaches B.
    offer_id = created[0].json()["id"]
    changed = a.api("PATCH", f"/proposals/{offer_id}", {"title": "Repassage et pliage"}, user="alice")
    assert changed.status_code == 200, changed.text
    wait_until("the change reaches B", lambda: any(p["title"] == "Repassage et pliage" for p in remote(b)))

    # Withdrawn on A, withdrawn on B.
    assert a.api("POST", f"/proposals/{offer_id}/withdraw", user="alice").status_code == 200
    wait_until(
        "the withdrawal reaches B", lambda: [p["title"] for p in remote(b)] == ["Courses avec ma mère"]
    )
    assert httpx.get(created[0].json()["ap_id"], headers=AS, timeout=10).status_code == 410
    # Before publishing, A learnt from B's NodeInfo that B reads proposals: B got no Note.
    software = {peer["domain"]: peer["software"] for peer in a.cli_json("federation", "peers")}
    assert software[b.url.split("://")[1]] == "asasap"

    # A photo posted on A shows on B's page of the offer, from B's own copy, with its text.
    post_with_photo(a, "alice", "Une table à repasser pliée")
    wait_until("the offer with a photo reaches B", lambda: "Table à repasser prêtée" in str(remote(b)))
    with_photo = next(p for p in remote(b) if p["title"] == "Table à repasser prêtée")
    local_page = b.url + with_photo["url"].removeprefix(b.url)

    def photo_shown() -> bool:
        return '<img src="/photos/' in httpx.get(local_page, timeout=30).text

    wait_until("B copies the photo", photo_shown)
    page_html = httpx.get(local_page, timeout=30).text
    shown = re.search(r'<img src="(/photos/[0-9a-f]{32}\.jpg)" alt="([^"]*)"', page_html)
    assert shown is not None and shown.group(2) == "Une table à repasser pliée"
    copy_of_photo = httpx.get(b.url + shown.group(1), timeout=10)
    assert copy_of_photo.status_code == 200 and copy_of_photo.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(copy_of_photo.content)) as received_photo:
        assert received_photo.format == "JPEG" and not received_photo.getexif()
    cards = httpx.get(b.url + "/proposals", params={"origin": "remote"}, timeout=30).text
    assert f'src="{shown.group(1)}" alt="Une table à repasser pliée"' in cards
