"""A real Chromium for the page tests, driven by Playwright (Debian's ``chromium``, never a downloaded
build): where it is, how it is launched, and the phone each person uses."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.accounts import PASSWORD

CHROMIUM = os.environ.get("ASASAP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_WIDTH = 360


def skip_without_chromium() -> None:
    """Skip the calling test module when Chromium is missing, unless ``ASASAP_REQUIRE_BROWSER`` is set
    (as in CI), where the tests then fail instead."""
    if not shutil.which(CHROMIUM) and not os.environ.get("ASASAP_REQUIRE_BROWSER"):
        pytest.skip(
            f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True
        )


def phone_context(browser: Browser) -> BrowserContext:
    """A new browser context as a French phone shows pages (its own cookies: its own session)."""
    return browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="fr-FR",
    )


def phone_page(browser: Browser, url: str, username: str | None = None, password: str = "") -> Page:
    """A phone of its own (cookies included) on the node at ``url``, logged in as ``username`` when given
    (``password``: the test people's, :data:`tests.support.accounts.PASSWORD`, by default)."""
    page = phone_context(browser).new_page()
    page.set_default_timeout(15_000)
    if username:
        page.goto(url + "/login")
        page.get_by_label("Identifiant").fill(username)
        page.get_by_label("Mot de passe").fill(password or PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(lambda address: "/login" not in address)
    return page


def fits(page: Page) -> None:
    """The page is no wider than the phone (nothing to scroll sideways)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide on a {PHONE_WIDTH}px screen"


# Named ``*_fixture``, so that test modules import it and use it by name.
@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield instance
        instance.close()
