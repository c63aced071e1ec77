"""A person on a phone, in a real Chromium driven by Playwright, against a real ``asasap serve``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import (
    PHONE_WIDTH,
    browser_fixture,  # noqa: F401 - a fixture used by name
    phone_context,
    skip_without_chromium,
)
from tests.support.nodes import NodeProcess

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[NodeProcess]:
    """One node for the module, on each backend: each test starts from pages no one is logged in on."""
    process = NodeProcess(
        tmp_path_factory.mktemp("node"),
        module_database_url,
        extra_env={
            "ASASAP_NODE_NAME": "Montreuil Services",
            "ASASAP_TERRITORY": "Montreuil (93)",
        },
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


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"page is {width}px wide on a {PHONE_WIDTH}px screen: {page.url}"


def test_register_login_edit_profile_switch_language_logout(node: NodeProcess, phone: Page) -> None:
    page = phone
    page.goto(node.base_url + "/")
    expect(page.locator("h1")).to_have_text("Montreuil Services")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    _no_horizontal_scroll(page)

    page.get_by_role("link", name="S’inscrire").or_(
        page.get_by_role("link", name="Créer un compte")
    ).first.click()
    page.get_by_label("Identifiant").fill("amina")
    page.get_by_label("Mot de passe").first.fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page).to_have_url(node.base_url + "/settings/profile?welcome=1")
    _no_horizontal_scroll(page)

    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_role("link", name="Se connecter").first.click()
    page.get_by_label("Identifiant").fill("amina")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.keyboard.press("Enter")  # submitted from the keyboard
    expect(page.get_by_role("link", name="Moi", exact=True)).to_be_visible()

    page.goto(node.base_url + "/settings/profile")
    page.get_by_label("Nom affiché").fill("Amina K.")
    page.get_by_label("Code postal").fill("93100")
    page.get_by_label("Nom de la commune").fill("Montreuil")
    page.get_by_label("Je propose des services").check()
    page.get_by_text("Enfants et famille").click()
    page.get_by_label("Soutien scolaire", exact=False).check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page).to_have_url(node.base_url + "/users/amina?saved=1")
    expect(page.locator("h1")).to_have_text("Amina K.")
    expect(page.get_by_text("Montreuil (93100)")).to_be_visible()
    _no_horizontal_scroll(page)

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Me", exact=True)).to_be_visible()
    expect(page.get_by_text("Member since")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    page.goto(node.base_url + "/settings/account")
    expect(page).to_have_url(node.base_url + "/login?next=/settings/account")


def test_keyboard_reaches_the_skip_link_and_focus_is_visible(node: NodeProcess, phone: Page) -> None:
    page = phone
    page.goto(node.base_url + "/login")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
