"""Searching on a phone, in a real Chromium driven by Playwright, against a real ``asasap serve``: words
and a place with a radius, the count and a result, then a search with nothing found and its wider one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from node.settings import Settings
from tests.support.browser import (
    PHONE_WIDTH,
    browser_fixture,  # noqa: F401 - a fixture used by name
    phone_context,
    skip_without_chromium,
)
from tests.support.nodes import NodeProcess
from tests.support.search import indexed, seeded_node

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


def _seed(session: Session, settings: Settings) -> None:
    indexed(session, settings, "Repassage en soirée", insee="93048", category="laundry-delivery")
    indexed(session, settings, "Tonte de pelouse", insee="69123", category="gardening", origin="b.example")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[NodeProcess]:
    yield from seeded_node(
        tmp_path_factory.mktemp("node"), tmp_path_factory.mktemp("seed"), module_database_url, _seed
    )


@pytest.fixture(name="phone")
def phone_fixture(browser: Browser) -> Iterator[Page]:
    context = phone_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_search_with_place_radius_and_a_wider_search(node: NodeProcess, phone: Page) -> None:
    page = phone
    page.goto(node.base_url + "/proposals")
    page.get_by_label("Mots").fill("linge")
    page.get_by_text("Plus de filtres").click()  # folded on a first visit, so that results start high
    page.get_by_label("Commune ou code postal").fill("Bagnolet")
    page.get_by_label("Distance").select_option("5")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator(".result-count")).to_contain_text("1 résultat")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    page.get_by_role("link", name="Repassage en soirée").click()
    expect(page.locator("h1")).to_have_text("Repassage en soirée")

    page.goto(node.base_url + "/proposals?q=tonte&place=Bagnolet&radius=100")
    expect(page.locator(".result-count")).to_contain_text("0 résultats")
    page.get_by_role("link", name="Chercher plus loin").click()
    expect(page.locator(".result-count")).to_contain_text("1 résultat")
    expect(page.get_by_role("link", name="Tonte de pelouse")).to_be_visible()
