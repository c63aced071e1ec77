"""Two people on phones, in a real Chromium against a real ``asasap serve``: write, receive, reply,
report, block."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_context,
    skip_without_chromium,
)
from tests.support.nodes import Node, NodeProcess

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    process = NodeProcess(tmp_path_factory.mktemp("node"), module_database_url)
    process.init()
    process.start()
    node = Node(process)
    for name in ("alice", "bob"):
        node.add_person(name)
    yield node
    process.stop()


def phone_of(browser: Browser, node: Node, username: str) -> Page:
    page = phone_context(browser).new_page()
    page.set_default_timeout(10_000)
    page.goto(node.url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Messages", exact=True)).to_be_visible()
    return page


def test_write_receive_reply_report_block(browser: Browser, node: Node) -> None:
    bob = phone_of(browser, node, "bob")
    bob.get_by_role("link", name="Messages", exact=True).click()
    bob.get_by_role("link", name="Écrire un message").click()
    expect(bob.get_by_label("Destinataire")).to_be_visible()  # the new page, before measuring it
    fits(bob)
    bob.get_by_label("Destinataire").fill("alice@" + node.domain)
    bob.get_by_label("Message").fill("Bonjour Alice, êtes-vous disponible jeudi ?")
    bob.get_by_role("button", name="Envoyer").click()
    expect(bob.get_by_text("Bonjour Alice, êtes-vous disponible jeudi ?")).to_be_visible()

    alice = phone_of(browser, node, "alice")
    alice.get_by_role("link", name="Messages", exact=True).click()
    expect(alice.get_by_text("1 non lu")).to_be_visible()
    fits(alice)
    alice.get_by_role("link", name="bob").click()
    expect(alice.get_by_text("Bonjour Alice, êtes-vous disponible jeudi ?")).to_be_visible()
    fits(alice)
    alice.get_by_label("Votre réponse").fill("Oui, à partir de 10 h.")
    alice.get_by_role("button", name="Envoyer").click()
    expect(alice.get_by_text("Oui, à partir de 10 h.")).to_be_visible()

    bob.reload()
    expect(bob.get_by_text("Oui, à partir de 10 h.")).to_be_visible()

    alice.get_by_role("link", name="Signaler ce message").click()
    alice.get_by_label("Harcèlement ou abus").check()
    alice.get_by_label("Commentaire").fill("Insistant")
    alice.get_by_role("button", name="Envoyer le signalement").click()
    expect(alice.get_by_role("status")).to_contain_text("Merci")
    alice.go_back()
    alice.go_back()
    alice.reload()
    alice.get_by_role("button", name="Bloquer bob").click()
    expect(alice.get_by_role("button", name="Débloquer bob")).to_be_visible()
    fits(alice)

    bob.get_by_label("Votre réponse").fill("Encore moi")
    bob.get_by_role("button", name="Envoyer").click()
    expect(bob.locator("#e-text")).to_have_text("Cette personne ne peut pas recevoir vos messages.")
    bob.context.close()
    alice.context.close()
