"""Password reset on a phone, in a real Chromium against a real ``asasap serve`` sending through a real
SMTP server on loopback: "Mot de passe oublié ?", the e-mail, the link, a new password, logged in with
it; the e-mail and migration settings pages fit a 360 px screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from node.accounts import service
from node.core import db
from tests.support.accounts import PASSWORD
from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_page,
    skip_without_chromium,
)
from tests.support.nodes import Node, NodeProcess, wait_until
from tests.support.smtp import MailServer, mail_server

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()

NEW_PASSWORD = "un nouveau secret bien long"


@pytest.fixture(scope="module")
def smtp() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture(scope="module")
def node(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str, smtp: MailServer
) -> Iterator[Node]:
    env = {"ASASAP_SMTP_HOST": smtp.host, "ASASAP_SMTP_PORT": str(smtp.port), "ASASAP_SMTP_SECURITY": "none"}
    process = NodeProcess(tmp_path_factory.mktemp("mail"), module_database_url, extra_env=env)
    process.init()
    process.start()
    engine = db.make_engine(process.database_url)
    try:
        with db.session_scope(engine, write=True) as session:
            service.create_user(
                username="alice", password=PASSWORD, email="alice@example.org", session=session
            )
    finally:
        engine.dispose()
    yield Node(process)
    process.stop()


def test_a_forgotten_password_is_reset_from_a_phone(browser: Browser, node: Node, smtp: MailServer) -> None:
    page = phone_page(browser, node.url)
    page.goto(node.url + "/login")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mot de passe oublié")
    fits(page)
    page.get_by_label("Adresse électronique").fill("alice@example.org")
    page.get_by_role("button", name="M’envoyer un lien").click()
    expect(page.get_by_role("status")).to_contain_text("Si un compte a cette adresse")
    wait_until("the reset e-mail arrived", lambda: len(smtp.received) == 1)
    link = re.search(r"http://\S+/password/reset/\S+", smtp.received[0].get_content())
    assert link is not None
    page.goto(link.group(0))
    fits(page)
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.locator("#f-password_confirm").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Modifier mon mot de passe").click()
    expect(page.get_by_role("status")).to_contain_text("Votre mot de passe a été changé")
    page.get_by_label("Identifiant").fill("alice")
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda address: "/login" not in address)
    for path, title in (
        ("/settings/notifications", "Notifications par courriel"),
        ("/settings/move", "Déménager"),
    ):
        page.goto(node.url + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(title)
        fits(page)
