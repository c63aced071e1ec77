"""The answer, bid and agreement pages on one node with two people: answer a demand from its page (the
form again with its errors when refused), see one's answers, the author's list with price, reputation
and distance, accept, the agreement page with its timeline, contact details for the two parties only,
confirm to completion; and the signed JSON documents other nodes read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from node.activitypub.signatures import VerificationKey, sign_cavage
from node.core.i18n import current_language
from node.market.agreements import contacts as agreement_contacts
from node.market.bids import service as bids
from node.market.bids.service import BidInput
from node.market.models import Agreement, AgreementContact, Bid
from node.settings import Settings
from tests.support.actors import FakeKeyLookup
from tests.support.market import BAGNOLET, make_proposal, person
from tests.support.pages import csrf, form_token, login, post_form

AS = "application/activity+json"


def test_answer_accept_and_complete_through_the_pages(
    client: TestClient, engine: Engine, settings: Settings, session: Session
) -> None:
    alice = person(engine, "alice")
    person(engine, "bob", commune=BAGNOLET)
    person(engine, "carol")
    demand = make_proposal(session, settings, alice)
    page_path = urlsplit(demand.ap_id).path

    visitor = client.get(page_path)
    assert visitor.status_code == 200 and f'href="/login?next={page_path}' in visitor.text

    login(client, "bob")
    page = client.get(page_path).text
    assert 'action="/bids"' in page and 'name="proposal"' in page
    refused = post_form(
        client,
        "/bids",
        {"proposal": demand.ap_id, "amount": "900", "next": page_path, "message": "Bonjour"},
        token_from=page_path,
    )
    assert refused.status_code == 422
    assert re.search(r'id="f-amount"[^>]*aria-invalid="true"', refused.text) and "Bonjour" in refused.text
    assert session.exec(select(Bid)).all() == []
    session.rollback()  # end the read, to see what the pages write
    sent = post_form(
        client,
        "/bids",
        {
            "proposal": demand.ap_id,
            "amount": "18,50",
            "basis": "per_hour",
            "next": page_path,
            "message": "Dispo mardi",
        },
        token_from=page_path,
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith(page_path + "?done=placed")
    # The page now shows Bob's answer instead of the form; a second answer is refused all the same.
    token = csrf(client, page_path, "/logout")
    again = client.post(
        "/bids", data={"csrf_token": token, "proposal": demand.ap_id, "amount": "17", "next": page_path}
    )
    assert again.status_code == 409 and "retirez votre réponse" in again.text
    mine = client.get("/me/bids").text
    assert demand.title in mine and "18,50" in mine
    session.rollback()
    bid = session.exec(select(Bid)).one()
    assert f'action="/bids/{bid.id}/withdraw"' in mine

    login(client, "alice")
    received = client.get("/me/bids/received").text
    assert "bob" in received and "18,50" in received and "km" in received and "Dispo mardi" in received
    assert (
        "/me/bids/received?proposal=" in client.get(page_path).text
        or f'action="/bids/{bid.id}/accept"' in client.get(page_path).text
    )
    accepted = client.post(
        f"/bids/{bid.id}/accept",
        data={"csrf_token": form_token(received, f"/bids/{bid.id}/accept"), "confirmed": "1"},
    )
    assert accepted.status_code == 303
    session.rollback()
    agreement = session.exec(select(Agreement)).one()
    agreement_path = f"/me/agreements/{agreement.id}"
    assert accepted.headers["location"] == agreement_path + "?done=accepted"
    detail = client.get(accepted.headers["location"]).text
    assert (
        "18,50" in detail
        and f'action="{agreement_path}/confirm"' in detail
        and f'action="{agreement_path}/cancel"' in detail
    )

    bad = post_form(
        client,
        agreement_path + "/contact",
        {"address": "", "phone": "n'importe quoi"},
        token_from=agreement_path,
    )
    assert bad.status_code == 422 and re.search(r'id="f-phone"[^>]*aria-invalid="true"', bad.text)
    shared = post_form(
        client,
        agreement_path + "/contact",
        {"address": "7 rue de Paris\nDigicode 1234", "phone": "06 12 34 56 78"},
        token_from=agreement_path,
    )
    assert shared.status_code == 303
    empty_dispute = post_form(client, agreement_path + "/dispute", {"reason": ""}, token_from=agreement_path)
    assert empty_dispute.status_code == 422 and 'id="f-dispute_reason"' in empty_dispute.text
    assert post_form(client, agreement_path + "/confirm", {}, token_from=agreement_path).status_code == 303

    login(client, "carol")
    assert client.get(agreement_path).status_code == 404
    assert "Digicode" not in client.get("/me/agreements").text

    login(client, "bob")
    detail = client.get(agreement_path).text
    assert "Digicode 1234" in detail and "tel:0612345678" in detail
    assert post_form(client, agreement_path + "/confirm", {}, token_from=agreement_path).status_code == 303
    done = client.get(agreement_path).text
    assert agreement.ap_id + "/receipt" not in done  # no raw identifier shown to residents
    assert f'href="{urlsplit(agreement.ap_id).path}/evaluate"' in done
    assert client.get("/me/agreements").status_code == 200


def test_withdraw_and_decline(
    client: TestClient, engine: Engine, settings: Settings, session: Session
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    demand, other = make_proposal(session, settings, alice), make_proposal(session, settings, alice)
    bid = bids.place_bid(settings, bob, demand, BidInput(amount="18"), session=session)
    session.commit()
    login(client, "alice")
    received = client.get(f"/me/bids/received?proposal={demand.id}").text
    declined = client.post(
        f"/bids/{bid.id}/reject",
        data={"csrf_token": form_token(received, f"/bids/{bid.id}/reject"), "reason": "Déjà trouvé"},
    )
    assert declined.status_code == 303
    session.rollback()
    session.refresh(bid)
    assert (bid.state, bid.reject_reason) == ("rejected", "Déjà trouvé")
    login(client, "bob")
    mine = client.get("/me/bids").text
    assert "Déjà trouvé" in mine and f"/bids/{bid.id}/withdraw" not in mine
    new = client.get("/bids/new", params={"proposal": other.ap_id})
    assert new.status_code == 200 and 'action="/bids"' in new.text
    placed_page = post_form(
        client,
        "/bids",
        {"proposal": other.ap_id, "amount": "16", "next": "/me/bids"},
        token_from=f"/bids/new?proposal={other.ap_id}",
    )
    assert placed_page.status_code == 303
    own = client.get("/bids/new", params={"proposal": other.ap_id}).text
    session.rollback()
    placed = session.exec(select(Bid).where(Bid.proposal_id == other.id)).one()
    assert f'action="/bids/{placed.id}/withdraw"' in own
    assert (
        client.post(
            f"/bids/{placed.id}/withdraw", data={"csrf_token": form_token(own, f"/bids/{placed.id}/withdraw")}
        ).status_code
        == 303
    )
    session.rollback()
    session.refresh(placed)
    assert placed.state == "withdrawn"
    assert client.post(f"/bids/{placed.id}/withdraw", data={"csrf_token": "forged"}).status_code == 403


def test_the_answer_block_with_its_panel(
    app: Starlette, engine: Engine, settings: Settings, session: Session
) -> None:
    """What ``bids/_on_proposal.html`` shows when the proposal page passes ``bid_panel``."""
    from node.http.pages.market import bids as bid_pages

    alice, bob = person(engine, "alice"), person(engine, "bob", commune=BAGNOLET)
    demand = make_proposal(session, settings, alice)
    bids.place_bid(settings, bob, demand, BidInput(amount="18", message="<em>Bonjour</em>"), session=session)
    session.commit()
    template = app.state.node.templates.get_template("bids/_on_proposal.html")
    card = {"takes_bids": False, "url": urlsplit(demand.ap_id).path}

    def render(viewer: object, panel: object) -> str:
        token = current_language.set("fr")
        try:
            request = type("R", (), {"url": type("U", (), {"path": card["url"]})()})()
            return str(
                template.render(
                    proposal=demand,
                    viewer=viewer,
                    item=card,
                    bid_panel=panel,
                    csrf_token="t",
                    lang="fr",
                    request=request,
                )
            )
        finally:
            current_language.reset(token)

    for_author = render(alice, bid_pages.panel(session, settings, demand, alice, "fr"))
    assert (
        "bob" in for_author
        and "18\u00a0€/h" in for_author
        and "Bonjour" in for_author
        and "<em>" not in for_author
    )
    assert "/accept" in for_author and "/reject" in for_author and "km" in for_author
    for_bidder = render(bob, bid_pages.panel(session, settings, demand, bob, "fr"))
    assert "/withdraw" in for_bidder and 'action="/bids"' not in for_bidder and "/accept" not in for_bidder
    carol = person(engine, "carol")
    for_other = render(carol, bid_pages.panel(session, settings, demand, carol, "fr"))
    assert 'action="/bids"' in for_other and "bob" not in for_other
    assert "/login?next=" in render(None, bid_pages.panel(session, settings, demand, None, "fr"))
    assert 'href="/users/bob"' in for_author  # the bidder's name leads to their profile

    # Someone whose status does not allow the service gets no form, but the way to change it.
    session.rollback()  # end the reads, before writing through another connection
    dan = person(engine, "dan", status="private_individual")
    care = make_proposal(session, settings, alice, category="childcare-under-3")
    demand = care
    for_dan = render(dan, bid_pages.panel(session, settings, care, dan, "fr"))
    assert 'action="/bids"' not in for_dan
    assert "Votre statut de prestataire ne vous permet pas" in for_dan
    assert 'href="/settings/profile#f-provider_status"' in for_dan


# --- documents for other nodes ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def remote_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def signed_client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def signed(path: str, key: rsa.RSAPrivateKey, key_id: str) -> dict[str, str]:
    headers = {"Accept": AS, "Host": "testserver"}
    return {
        **headers,
        **sign_cavage("GET", "http://testserver" + path, headers, None, key_id=key_id, private_key=key),
    }


def test_agreement_and_contact_documents_need_a_party_signature(
    app: Starlette,
    signed_client: TestClient,
    engine: Engine,
    settings: Settings,
    session: Session,
    remote_key: rsa.RSAPrivateKey,
) -> None:
    alice = person(engine, "alice")
    demand = make_proposal(session, settings, alice)
    assert demand.id is not None
    remote = Bid(
        ap_id="https://bagnolet.example/activities/1",
        proposal_id=demand.id,
        bidder_uri="https://bagnolet.example/users/bob",
        origin="bagnolet.example",
        price_amount=Decimal(18),
        price_currency="EUR",
        price_basis="per_hour",
    )
    session.add(remote)
    session.commit()
    agreement = bids.accept_bid(settings, alice, remote, session=session)
    contact = agreement_contacts.share_contact(
        settings, alice, agreement, "1 rue Haute", "0600000000", session=session
    )
    session.commit()
    path = urlsplit(agreement.ap_id).path
    contact_path = f"/agreement-contacts/{contact.id}"

    def key_of(owner: str) -> tuple[str, FakeKeyLookup]:
        key_id = owner + "#main-key"
        return key_id, FakeKeyLookup(VerificationKey(key=remote_key.public_key(), key_id=key_id, owner=owner))

    assert signed_client.get(path, headers={"Accept": AS}).status_code == 401
    assert signed_client.get(contact_path, headers={"Accept": AS}).status_code == 401
    key_id, app.state.key_lookup = key_of("https://bagnolet.example/actor")
    document = signed_client.get(path, headers=signed(path, remote_key, key_id))
    assert document.status_code == 200 and document.headers["content-type"].startswith(AS)
    assert document.json()["agreementState"] == "accepted" and "stipulatesReciprocal" in document.json()
    served = signed_client.get(contact_path, headers=signed(contact_path, remote_key, key_id))
    assert served.status_code == 200 and served.json()["address"] == "1 rue Haute"
    tampered = signed(path, remote_key, key_id)
    assert signed_client.get(contact_path, headers=tampered).status_code == 401  # signed for another path
    key_id, app.state.key_lookup = key_of("https://elsewhere.example/actor")
    assert signed_client.get(path, headers=signed(path, remote_key, key_id)).status_code == 404
    assert (
        signed_client.get(contact_path, headers=signed(contact_path, remote_key, key_id)).status_code == 404
    )
    assert "1 rue Haute" not in session.exec(select(AgreementContact)).one().sealed
    browser = signed_client.get(path)
    assert browser.status_code == 303 and browser.headers["location"].startswith("/login")
