"""A founder on a phone, in a real Chromium against a real ``asasap serve``: creates a SCIC with the
wizard, accepts two members and records three categories of associates until the checklist turns green,
invites a member, and publishes an offer in the group's name; then edits the group's profile and, on
the group's work page, cancels an agreement for the group."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from node.accounts import credentials, service
from node.core import db
from tests.support.accounts import PASSWORD
from tests.support.browser import (
    PHONE_WIDTH,
    browser_fixture,  # noqa: F401 - a fixture used by name
    phone_context,
    skip_without_chromium,
)
from tests.support.market import proposal_fields
from tests.support.nodes import NodeProcess

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()

HOUSEWORK = "Entretien de la maison et travaux ménagers"
GREEN = "Toutes les règles fixées par la loi sont respectées."


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[NodeProcess]:
    process = NodeProcess(
        tmp_path_factory.mktemp("node"),
        module_database_url,
        extra_env={"ASASAP_NODE_NAME": "Montreuil Services"},
    )
    process.init()
    process.start()
    yield process
    process.stop()


@pytest.fixture(name="phone")
def phone_fixture(browser: Browser) -> Iterator[Page]:
    context = phone_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def tokens(node: NodeProcess, *names: str) -> dict[str, str]:
    """Accounts made on the node's database, with an API token each."""
    engine = db.make_engine(node.database_url)
    found = {}
    try:
        for name in names:
            # One write transaction (BEGIN IMMEDIATE on SQLite): it waits for the node's own writers.
            with db.session_scope(engine, write=True) as session:
                user = service.create_user(username=name, password=PASSWORD, session=session)
                found[name] = credentials.create_api_token(user, "tests", session=session)[1]
    finally:
        engine.dispose()
    return found


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"page is {width}px wide on a {PHONE_WIDTH}px screen: {page.url}"


def set_category(page: Page, name: str, category: str) -> None:
    member = page.locator("li.member").filter(has=page.get_by_role("link", name=name, exact=True))
    member.locator("summary").first.click()
    member.get_by_label("Catégorie d’associé").select_option(label=category)
    member.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.get_by_role("status").first).to_be_visible()


def test_a_founder_creates_a_scic_on_a_phone(node: NodeProcess, phone: Page) -> None:
    page = phone
    people = tokens(node, "amina", "bilal", "chloe", "dan")
    profile = httpx.patch(
        f"{node.base_url}/api/v1/me",
        json={"postal_code": "93100", "commune_name": "Montreuil"},
        headers={"Authorization": f"Bearer {people['amina']}"},
        timeout=10,
    )
    assert profile.status_code == 200, profile.text
    page.goto(node.base_url + "/login")
    page.get_by_label("Identifiant").fill("amina")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Moi", exact=True)).to_be_visible()

    # The wizard: what, where, the legal shape aimed at (its requirements shown beside it).
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Moi").click()
    page.locator("main").get_by_role("link", name="Groupes").click()
    page.get_by_role("link", name="Créer un groupe").click()
    no_horizontal_scroll(page)
    page.get_by_label("Nom du groupe").fill("Coop Montreuil")
    page.get_by_label("Nom court (son adresse)").fill("coop")
    page.get_by_label("Territoire").fill("Montreuil")
    page.get_by_label("SCIC (société coopérative d’intérêt collectif)").check()
    expect(page.get_by_text("Au moins trois catégories d’associés").first).to_be_visible()
    page.get_by_role("button", name="Créer le groupe").click()
    expect(page).to_have_url(node.base_url + "/groups/coop/members?done=created")
    checklist = page.locator("section.checklist")
    expect(checklist).to_contain_text("Il manque un associé de la catégorie bénéficiaires.")
    expect(checklist).to_contain_text("art. 19 septies")
    no_horizontal_scroll(page)

    # Two people ask to join (from their own apps); the founder accepts them.
    for name in ("bilal", "chloe"):
        joined = httpx.post(
            f"{node.base_url}/api/v1/groups/coop/join",
            json={},
            headers={"Authorization": f"Bearer {people[name]}"},
            timeout=10,
        )
        assert joined.status_code == 200, joined.text
    page.reload()
    for _ in range(2):
        page.locator("ul.people").get_by_role("button", name="Accepter", exact=True).first.click()
        expect(page.get_by_role("status").first).to_be_visible()

    # Three categories of associates: the checklist turns green.
    set_category(page, "amina", "Salariés")
    set_category(page, "bilal", "Bénéficiaires")
    expect(page.locator(".checklist-status")).to_have_text("Certaines règles ne sont pas encore respectées.")
    set_category(page, "chloe", "Bénévoles")
    expect(page.locator(".checklist-status")).to_have_text(GREEN)
    expect(page.locator("li.check-item.todo")).to_have_count(0)
    no_horizontal_scroll(page)

    # Invite a member.
    page.get_by_label("Son identifiant sur ce nœud, ou son adresse sur un autre nœud").fill("dan")
    page.get_by_role("button", name="Inviter", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("L’invitation a été envoyée.")
    expect(page.locator("ul.people").first).to_contain_text("invité")

    # An offer in the group's name.
    page.goto(node.base_url + "/groups/coop")
    page.get_by_role("link", name="Publier une offre au nom du groupe").click()
    expect(page.get_by_text("Au nom du groupe coop.")).to_be_visible()
    page.get_by_label("Titre").fill("Ménage et repassage en coopérative")
    page.get_by_role("combobox", name="Service", exact=True).select_option(label=HOUSEWORK)
    expect(page.get_by_label("Code postal")).to_have_value("93100")  # from the coordinator's profile
    page.get_by_label("Montant", exact=True).fill("22")
    page.get_by_role("button", name="Publier").click()
    expect(page.locator(".error-summary")).to_have_count(0)
    # Publishing waits for the database on a busy machine: a generous limit.
    page.wait_for_url(re.compile(r"/proposals/[^/?]+\?saved=created$"), timeout=90_000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ménage et repassage en coopérative")
    expect(page.get_by_role("link", name="Coop Montreuil")).to_be_visible()
    no_horizontal_scroll(page)
    page.goto(node.base_url + "/groups/coop")
    expect(page.locator("ul.proposals")).to_contain_text("Ménage et repassage en coopérative")

    # The group's profile, edited on the phone.
    page.get_by_role("link", name="Modifier le profil").click()
    no_horizontal_scroll(page)
    page.get_by_label("Ce que fait le groupe").fill("Ménage et repassage à Montreuil.")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page).to_have_url(node.base_url + "/groups/coop?done=saved")
    expect(page.locator("p.bio")).to_have_text("Ménage et repassage à Montreuil.")

    # Dan's demand, answered by the group and accepted (from their apps); the founder cancels it for
    # the group on the work page.
    def api(method: str, path: str, user: str, body: dict[str, object] | None = None) -> dict[str, Any]:
        response = httpx.request(
            method,
            f"{node.base_url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {people[user]}"},
            timeout=30,
        )
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    demand = api("POST", "/proposals", "dan", proposal_fields("request", "Ménage du samedi"))
    bid = api("POST", "/groups/coop/bids", "amina", {"proposal": demand["ap_id"]})
    api("POST", f"/bids/{bid['id']}/accept", "dan")
    page.goto(node.base_url + "/groups/coop/work")
    agreement = page.locator("li.member").filter(has_text="Pour")
    agreement.locator("summary").filter(has_text="Annuler").click()
    agreement.get_by_label("Motif (facultatif), communiqué à l'autre partie").fill("Plus personne de libre.")
    no_horizontal_scroll(page)
    agreement.get_by_role("button", name="Annuler l'accord").click()
    expect(page).to_have_url(node.base_url + "/groups/coop/work?done=cancel")
    expect(page.locator("li.member").filter(has_text="Pour")).to_contain_text("cancelled")
    no_horizontal_scroll(page)
