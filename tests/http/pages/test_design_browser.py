"""The design system and accessibility in a real Chromium against a real ``asasap serve``, on a phone
(360 px): the living style page renders every component, its confirm dialog and bottom sheet work, and
axe-core (vendored, ``scripts/vendor.sh``) finds no violation of any impact on every main page type,
logged out and logged in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import PASSWORD
from tests.support.axe import EVERY_IMPACT, violations
from tests.support.browser import (
    PHONE_WIDTH,
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    skip_without_chromium,
)
from tests.support.market import proposal_fields
from tests.support.nodes import Node, NodeProcess

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    process = NodeProcess(tmp_path_factory.mktemp("node"), module_database_url)
    process.init()
    process.start()
    running = Node(process)
    created = process.cli("user", "create", "ada", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    running.add_person("bob")
    bob = {"provider_status": "self_employed", "siret": "73282932000074", "offers_services": True}
    running.ok("PATCH", "/me", bob, user="bob")  # a SIRET: the verified badge is checked too
    running.ok("POST", "/proposals", proposal_fields("offer", "Repassage du mardi soir"), user="bob")
    running.ok("POST", "/conversations", {"to": [running.url + "/users/ada"], "text": "Bonjour"}, user="bob")
    yield running
    process.stop()


def _phone(browser: Browser, node: Node, username: str | None = None) -> Page:
    # CSP is bypassed so that axe-core can be injected; the node's own pages never need it.
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="fr-FR",
        bypass_csp=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    if username:
        page.goto(node.url + "/login")
        page.get_by_label("Identifiant").fill(username)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(lambda url: "/login" not in url)
    return page


def test_the_style_page_renders_every_component(node: Node, browser: Browser) -> None:
    page = _phone(browser, node, "ada")
    page.goto(node.url + "/style")
    main = page.locator("main")
    for heading in (
        "Photo de profil",
        "Badges par état",
        "Note",
        "Boutons",
        "Demande de confirmation",
        "Liste vide",
        "Panneau du bas",
        "Carte",
    ):
        expect(main.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(main.locator("li.proposal-card")).to_have_count(1)
    fits(page)

    # The confirm dialog asks, and cancelling leaves the page as it was.
    main.locator("form[data-confirm] button").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Retirer cette annonce")
    dialog.get_by_role("button", name="Annuler").click()
    expect(dialog).to_be_hidden()
    assert page.url.endswith("/style")

    # The bottom sheet opens from the bottom edge of a phone.
    page.get_by_text("Signaler un problème", exact=True).click()
    body = page.locator("details.sheet .sheet-body")
    expect(body).to_be_visible()
    box = body.bounding_box()
    assert box is not None and box["y"] + box["height"] == pytest.approx(740, abs=2)
    assert violations(page) == []
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/x.png\">')")
    assert any(line.startswith("image-alt (critical)") for line in violations(page))  # axe does look

    member = _phone(browser, node, "bob")
    assert member.goto(node.url + "/style") is not None
    expect(member.locator("main")).to_contain_text("réservée aux administrateurs")


@pytest.mark.parametrize(
    ("username", "paths"),
    [
        (None, ["/", "/login", "/register", "/password/forgot", "/proposals", "/map", "/users/bob"]),
        (
            "bob",
            [
                "/",
                "/proposals",
                "/proposals/new",
                "/me",
                "/me/proposals",
                "/me/bids",
                "/me/agreements",
                "/settings/profile",
                "/conversations",
                "/notifications",
                "/map",
                "/people/search",
                "/users/bob",
                "/me/suggestions",
                "/me/bids/received",
                "/me/searches",
                "/groups",
                "/settings/account",
                "/settings/notifications",
                "/me/visits",
            ],
        ),
        ("ada", ["/admin", "/style"]),
    ],
    ids=["logged-out", "logged-in", "admin"],
)
def test_main_pages_have_no_accessibility_violation(
    node: Node, browser: Browser, username: str | None, paths: list[str]
) -> None:
    page = _phone(browser, node, username)
    page.goto(node.url + "/proposals")
    first = page.locator("li.proposal-card h3 a").first.get_attribute("href")
    assert first is not None
    if username == "bob":  # a conversation's page too
        [conversation] = node.ok("GET", "/conversations", user="bob")
        paths = [*paths, f"/conversations/{conversation['id']}"]
    found = {}
    for path in [*paths, first]:
        response = page.goto(node.url + path)
        assert response is not None and response.status == 200, path
        problems = violations(page, EVERY_IMPACT)
        if problems:
            found[path] = problems
    assert found == {}


def test_a_coordinator_gives_a_reset_link_by_hand_on_a_phone(node: Node, browser: Browser) -> None:
    page = _phone(browser, node, "ada")
    page.goto(node.url + "/admin?q=bob")
    fits(page)  # the table scrolls on its own, its hidden button texts with it
    page.get_by_role("button", name="Réinitialiser le mot de passe bob").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Réinitialiser le mot de passe de ce membre")
    dialog.get_by_role("button", name="Réinitialiser le mot de passe").click()
    link = page.locator("#reset-link")
    expect(link).to_contain_text("/password/reset/")  # no e-mail on this node: shown to give by hand
    fits(page)
    assert violations(page, EVERY_IMPACT) == []
