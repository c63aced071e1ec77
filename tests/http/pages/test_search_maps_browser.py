"""The map of a search on a phone, in a real Chromium against a real ``asasap serve``: the vendored
Leaflet draws the départements and one point per commune from the GeoJSON API with no tile server and
no network beyond the node; without JavaScript the same page is its tables and its list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect
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
    indexed(session, settings, "Repassage et linge", insee="93006", category="laundry-delivery")
    indexed(session, settings, "Tonte de pelouse", insee="69123", category="gardening", origin="b.example")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[NodeProcess]:
    yield from seeded_node(
        tmp_path_factory.mktemp("node"), tmp_path_factory.mktemp("seed"), module_database_url, _seed
    )


def test_map_shows_points_and_tables_on_a_phone(node: NodeProcess, browser: Browser) -> None:
    context = phone_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(node.base_url) else None)
    page.goto(node.base_url + "/proposals?q=linge")
    page.get_by_role("link", name="Voir sur une carte").click()
    expect(page.locator("h1")).to_have_text("Carte des offres et des demandes")
    expect(page.locator("#map.leaflet-container")).to_be_visible()
    expect(page.locator("path.map-point")).to_have_count(2)  # Montreuil and Bagnolet, not Lyon
    assert page.locator("path.leaflet-interactive").count() > 90  # the départements, then the points
    page.locator("path.map-point").first.click()
    expect(page.locator(".leaflet-popup-content dt").first).to_have_text("Offres")
    expect(page.locator(".leaflet-popup-content dd").first).to_have_text("1")
    expect(page.get_by_role("table").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert outside == []
    context.close()


def test_without_javascript_the_map_is_a_list(node: NodeProcess, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 740}, locale="fr-FR", java_script_enabled=False
    )
    page = context.new_page()
    page.goto(node.base_url + "/map?q=linge")
    expect(page.locator("#map")).to_be_hidden()
    communes = page.locator("section", has=page.get_by_role("heading", name="Par commune"))
    expect(communes.get_by_role("link", name="Montreuil")).to_be_visible()
    expect(communes.get_by_role("link", name="Bagnolet")).to_be_visible()
    expect(page.get_by_role("link", name="Repassage en soirée")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    page.get_by_role("link", name="Montreuil").first.click()
    expect(page.locator(".result-count")).to_contain_text("résultat")
    context.close()
