"""The time bank on a phone, in a real Chromium against a real cooperative ``asasap serve``: Alice sees
her balance, sees it again before accepting Bob's answer priced in tokens, they both confirm the
service, each history shows the payment with the agreement it comes from, the agreement shows it paid
and the provider's notifications tell of the hours received. Every page is French and
fits a 360 px screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_page,
    skip_without_chromium,
)
from tests.support.market import proposal_fields
from tests.support.nodes import Node, NodeProcess, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()

NBSP = "\u00a0"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    process = NodeProcess(
        tmp_path_factory.mktemp("coop"),
        module_database_url,
        extra_env={
            "ASASAP_MODE": "cooperative",
            "ASASAP_NODE_NAME": "Coopérative Est Ensemble",
            "ASASAP_TIMEBANK_RETRY_SECONDS": "1",
        },
    )
    process.init()
    process.start()
    yield Node(process)
    process.stop()


def phone(browser: Browser, node: Node, username: str | None = None) -> Page:
    return phone_page(browser, node.url, username)


def test_balance_payment_in_tokens_and_both_histories_on_a_phone(node: Node, browser: Browser) -> None:
    for name in ("alice", "bob"):
        node.add_person(name)
    node.ok("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user="bob")
    demand = node.ok(
        "POST",
        "/proposals",
        proposal_fields("request", "Courses du samedi", price="1.5", currency="HOUR", price_basis="total"),
        user="alice",
    )
    node.ok("POST", "/bids", {"proposal": demand["ap_id"], "amount": "1.5"}, user="bob")

    a = phone(browser, node, "alice")
    a.get_by_role("link", name="Moi", exact=True).click()
    a.get_by_role("link", name="Banque de temps").click()
    expect(a.get_by_role("heading", level=1)).to_have_text("Ma banque de temps")
    expect(a.get_by_test_id("balance")).to_have_text(f"2{NBSP}h")
    expect(a.locator(".tb-history")).to_contain_text("Crédit de bienvenue")
    fits(a)

    a.goto(node.url + "/me/bids/received")
    note = a.get_by_test_id("balance-before-accept")
    expect(note).to_contain_text(f"Votre solde avant d'accepter : 2{NBSP}h")
    expect(note).to_contain_text(f"après paiement de cette réponse : 0,50{NBSP}h")
    fits(a)
    a.get_by_role("button", name="Accepter").click()
    a.get_by_role("dialog").get_by_role("button", name="Accepter").click()  # the others are declined
    a.wait_for_url("**/me/agreements/*")
    a.get_by_role("button", name="La prestation a été réalisée").click()
    agreement_url = a.url.split("?")[0]

    b = phone(browser, node, "bob")
    b.goto(agreement_url)
    b.get_by_role("button", name="La prestation a été réalisée").click()
    wait_until("the payment is made", lambda: node.ok("GET", "/timebank/me", user="bob")["balance"] == "3.50")

    for page, amount, balance in ((a, f"−1,50{NBSP}h", f"0,50{NBSP}h"), (b, f"+1,50{NBSP}h", f"3,50{NBSP}h")):
        page.goto(node.url + "/me/timebank")
        expect(page.get_by_test_id("balance")).to_have_text(balance)
        line = page.locator(".tb-line").filter(has_text="Paiement d'un service")
        expect(line).to_contain_text(amount)
        expect(line.get_by_role("link", name="L'accord")).to_have_attribute(
            "href", agreement_url.removeprefix(node.url)
        )
        fits(page)
    b.goto(agreement_url)  # the agreement says it is paid, and bob was told the hours arrived
    expect(b.get_by_test_id("payment")).to_have_attribute("data-state", "paid")
    expect(b.get_by_test_id("payment").locator(".badge")).to_have_text("Payé")
    fits(b)
    b.goto(node.url + "/notifications")
    expect(b.locator(".notifications")).to_contain_text("Vous avez reçu du temps")
    a.context.close()
    b.context.close()
