"""Research figures on a phone, in a real Chromium against a real ``asasap serve``: the public page and
the coordinators' page show each indicator as a chart with its data table, withheld cells said as such
("moins de 5 personnes"), within a 360 px screen; a person leaves the figures from their settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from node.research import collect
from node.research.cellkey import MAX_CHANGE
from tests.support.accounts import PASSWORD
from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_page,
    skip_without_chromium,
)
from tests.support.nodes import Node, node_fixture  # noqa: F401 - a fixture used by name

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()

INSERT_PROPOSAL = (
    "INSERT INTO proposals (ap_id, origin, author_uri, purpose, title, description, category, commune_name,"
    " postal_code, departement, state, search_text, published_at, updated_at) VALUES (:ap, '', :author,"
    " 'request', 'Demande', '', :category, '', '', '', 'open', '', :at, :at)"
)


def seed(node: Node) -> None:
    """Last month: six people ask for cleaning, one for gardening (too few: withheld, and so is cleaning,
    else the total would give gardening away)."""
    at = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).replace(day=3, hour=10)
    engine = create_engine(node.process.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            for i, category in enumerate(["menage"] * 6 + ["jardinage"]):
                connection.execute(
                    text(INSERT_PROPOSAL),
                    {
                        "ap": f"{node.url}/proposals/r{i}",
                        "author": f"{node.url}/users/r{i}",
                        "category": category,
                        "at": at,
                    },
                )
    finally:
        engine.dispose()


def outcomes(completed: int, total: int) -> list[dict[str, Any]]:
    """A node's published agreements by outcome, as a collected document holds them."""
    return [
        {
            "month": "2026-11",
            "scope": "local",
            "indicator": "agreement_outcomes",
            "breakdown": breakdown,
            "value": str(value),
            "items": value,
            "people": 2 * value,
            "suppressed": None,
        }
        for breakdown, value in (("completed", completed), ("*", total))
    ]


def phone(browser: Browser, node: Node, username: str | None = None) -> Page:
    return phone_page(browser, node.url, username)


def test_public_and_coordination_pages_and_leaving_on_a_phone(node: Node, browser: Browser) -> None:
    seed(node)
    created = node.process.cli(
        "user", "create", "coord", "--role", "coordinator", "--password-stdin", stdin=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    node.add_person("alice")

    public = phone(browser, node)
    public.goto(node.url + "/research")
    expect(public.get_by_role("heading", level=1)).to_have_text("Chiffres pour la recherche")
    section = public.get_by_role("region", name="Propositions publiées").first
    expect(public.get_by_role("img", name="Propositions publiées")).to_have_count(1)
    table = public.locator("#pub-proposals").locator("xpath=..").locator("table")
    expect(table).to_contain_text("request:*")
    expect(table).to_contain_text("moins de 5 personnes")
    # Seven demands, published with the cell key noise: within 2 of seven.
    total = table.locator("tr", has_text="request:*").locator("td").all_inner_texts()[-2]  # last month
    assert abs(int(total.split()[0]) - 7) <= MAX_CHANGE
    assert section is not None
    fits(public)

    # Market and cooperative nodes side by side, once a comparison is collected and saved.
    found = [
        collect.Collected("https://a.example", "a.example", "market", "Marché A", outcomes(30, 40), 2),
        collect.Collected("https://b.example", "b.example", "cooperative", "Coop B", outcomes(45, 50), 2),
    ]
    collect.save(node.process.data_dir, found, collect.compare(found), "2026-12-07T09:00:00Z")
    public.goto(node.url + "/research")
    compared = public.get_by_role("region", name="Nœuds de marché et nœuds coopératifs comparés")
    expect(compared).to_contain_text("Coop B")
    expect(compared.get_by_role("img", name="Issue des accords").first).to_be_visible()
    outcomes_table = compared.get_by_role("region", name="Données de la comparaison (Issue des accords)")
    expect(outcomes_table).to_contain_text("75.0 %")
    expect(outcomes_table).to_contain_text("90.0 %")
    fits(public)

    coordinator = phone(browser, node, "coord")
    coordinator.goto(node.url + "/research/coordination")
    expect(coordinator.get_by_role("heading", level=1)).to_have_text(
        "Chiffres pour la recherche\u00a0: exports"
    )
    expect(coordinator.get_by_role("link", name="Télécharger les chiffres (CSV)")).to_be_visible()
    expect(coordinator.get_by_role("heading", name="Dictionnaire des données")).to_be_visible()
    fits(coordinator)

    alice = phone(browser, node, "alice")
    alice.goto(node.url + "/research/coordination")
    expect(alice.get_by_role("heading", level=1)).not_to_have_text(
        "Chiffres pour la recherche\u00a0: exports"
    )
    alice.goto(node.url + "/settings/account")
    # By keyboard: on a phone the tokens' section of that page overlaps what follows it.
    alice.get_by_role("link", name="Les chiffres pour la recherche et vous").focus()
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("heading", name="Information sur la confidentialité")).to_be_visible()
    alice.get_by_label("Ne pas me compter dans les chiffres pour la recherche").check()
    alice.get_by_role("button", name="Enregistrer").click()
    expect(alice.get_by_role("status")).to_contain_text("Votre choix est enregistré")
    expect(alice.get_by_label("Ne pas me compter dans les chiffres pour la recherche")).to_be_checked()
    fits(alice)
