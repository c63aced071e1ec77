"""The resident's product on a phone, in a real Chromium against a real ``asasap serve``: a compact top
bar and a bottom tab bar (measured), the first listing high on the search page, the "Me" page, a home
that says what to do next, and one row of menu on a desktop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FloatRect, Page, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import (
    PHONE_WIDTH,
    browser_fixture,  # noqa: F401 - a fixture used by name
    phone_context,
    skip_without_chromium,
)
from tests.support.market import proposal_fields
from tests.support.nodes import Node, NodeProcess

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()

PHONE_HEIGHT = 740
TOP_BAR_MAX = 64  # px: the budget for the header on a phone
TITLE = "Repassage du mardi soir"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    process = NodeProcess(
        tmp_path_factory.mktemp("node"),
        module_database_url,
        extra_env={"ASASAP_NODE_NAME": "Montreuil Services de proximité"},
    )
    process.init()
    process.start()
    running = Node(process)
    for name in ("alice", "bob"):
        running.add_person(name)
    running.ok("PATCH", "/me", {"provider_status": "private_individual", "offers_services": True}, user="bob")
    for number in range(3):
        running.ok("POST", "/proposals", proposal_fields("offer", f"Ménage no {number}"), user="bob")
    yield running
    process.stop()


def _log_in(page: Page, node: Node, username: str) -> None:
    page.goto(node.url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("ASASAP_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _box(page: Page, selector: str) -> FloatRect:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown on {page.url}"
    return box


def test_tab_bar_search_me_and_next_steps_on_a_phone(node: Node, browser: Browser) -> None:
    context = phone_context(browser)
    page = context.new_page()
    page.set_default_timeout(15_000)
    _log_in(page, node, "alice")

    # The top bar is one short row; the tab bar sits at the bottom of the screen, five tabs side by side.
    header = _box(page, "header.site-header")
    assert header["height"] <= TOP_BAR_MAX, f"the header is {header['height']}px tall on a phone"
    tabs = page.get_by_role("navigation", name="Menu principal")
    names = [link.inner_text().strip() for link in tabs.get_by_role("link").all()]
    assert names == ["Accueil", "Rechercher", "Publier", "Messages", "Moi"]
    bar = tabs.bounding_box()
    assert bar is not None
    assert bar["y"] + bar["height"] == pytest.approx(PHONE_HEIGHT, abs=1)
    assert bar["height"] <= 72
    expect(tabs.get_by_role("link", name="Accueil")).to_have_attribute("aria-current", "page")

    # The search page: the first listing starts in the top half of the screen.
    tabs.get_by_role("link", name="Rechercher").click()
    expect(page.locator("li.proposal-card")).to_have_count(3)
    first = _box(page, "li.proposal-card")
    print(f"first listing at {first['y']:.0f}px of {PHONE_HEIGHT} (header {header['height']:.0f}px)")
    assert first["y"] < PHONE_HEIGHT / 2, f"the first listing starts {first['y']}px down"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    expect(tabs.get_by_role("link", name="Rechercher")).to_have_attribute("aria-current", "page")
    _screenshot(page, "phone-search")

    # The filters fold out, with a visible marker, and stay open once used.
    expect(page.get_by_label("Offres ou demandes")).to_be_hidden()
    page.get_by_text("Plus de filtres").click()
    page.get_by_label("Offres ou demandes").select_option(label="Offres")
    page.get_by_role("button", name="Rechercher", exact=True).click()
    expect(page.get_by_label("Offres ou demandes")).to_be_visible()
    marker = page.evaluate(
        "getComputedStyle(document.querySelector('details.fold > summary'), '::before').borderRightWidth"
    )
    assert marker != "0px"

    # "Me" gathers what the menu used to: the time bank (cooperative nodes) and groups too.
    tabs.get_by_role("link", name="Moi").click()
    main = page.locator("main")
    for name in ("Mon profil", "Mes annonces", "Mes réponses", "Mes accords", "Groupes", "Abonnements"):
        expect(main.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(tabs.get_by_role("link", name="Moi")).to_have_attribute("aria-current", "page")

    # Alice asks for a service; Bob answers; her home then says what to do next.
    demand = node.ok("POST", "/proposals", proposal_fields("request", TITLE), user="alice")
    node.ok("POST", "/bids", {"proposal": demand["ap_id"], "amount": "18"}, user="bob")
    tabs.get_by_role("link", name="Accueil").click()
    todo = page.get_by_role("region", name="À faire")
    expect(todo.get_by_role("link", name="Réponses à choisir (1)")).to_be_visible()
    expect(todo).to_contain_text(TITLE)
    _screenshot(page, "phone-home")
    todo.get_by_role("link", name="Réponses à choisir (1)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Réponses reçues")

    # Categories on the home page are links to the matching listings.
    tabs.get_by_role("link", name="Accueil").click()
    page.get_by_text("Vie quotidienne et ménage").click()
    page.get_by_role("link", name="Entretien de la maison et travaux ménagers").click()
    expect(page).to_have_url(node.url + "/proposals?category=housework")

    # The new-listing form shows only the time fields of the schedule chosen.
    tabs.get_by_role("link", name="Publier").click()
    expect(page.get_by_label("Début", exact=True)).to_be_hidden()
    expect(page.get_by_label("Premier jour")).to_be_hidden()
    height = page.evaluate("document.documentElement.scrollHeight")
    print(f"new-listing form: {height}px tall on a phone")
    page.get_by_label("Une seule fois, à une date précise").check()
    expect(page.get_by_label("Début", exact=True)).to_be_visible()
    expect(page.get_by_label("Premier jour")).to_be_hidden()
    page.get_by_label("Chaque semaine").check()
    expect(page.get_by_label("Premier jour")).to_be_visible()
    expect(page.get_by_label("Début", exact=True)).to_be_hidden()
    context.close()


def test_one_row_of_menu_on_a_desktop(node: Node, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    page = context.new_page()
    _log_in(page, node, "alice")
    header = _box(page, "header.site-header")
    assert header["height"] <= TOP_BAR_MAX, f"the header is {header['height']}px tall on a desktop"
    tabs = page.get_by_role("navigation", name="Menu principal")
    tops = {round((link.bounding_box() or {"y": -1})["y"]) for link in tabs.get_by_role("link").all()}
    assert len(tops) == 1, f"the menu spreads over rows at {tops}"
    _screenshot(page, "desktop-home")
    context.close()


def test_installable_with_an_offline_page(node: Node, browser: Browser) -> None:
    context = phone_context(browser)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(node.url + "/")
    manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json())")
    assert manifest["name"] == "Montreuil Services de proximité" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    # The service worker takes control, keeps the shell, and answers offline with its page.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    page.goto(node.url + "/proposals")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pas de connexion")
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # the cached stylesheet
    context.set_offline(False)
    context.close()
