"""Telemanagement billing on a phone, in a real Chromium against a real ``asasap serve``: the
coordinator resolves last month's unclocked visit with a code and its retained times, validates the
month, issues the invoices and finds them listed; every page is French and fits a 360 px screen. The
invoice the node serves is opened: its text, its Factur-X XML against the official Schematron, its
PDF/A-3 structure."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from node.telemanagement import facturx, pdfa, schematron
from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_page,
    skip_without_chromium,
)
from tests.support.nodes import Node, NodeProcess
from tests.support.telemanagement import coordinator_and_provider

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


@pytest.fixture(name="node", scope="module")
def issuer_node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    """A real node (``asasap serve``) whose issuer has a SIRET, as Factur-X's category E requires."""
    issuer = {
        "ASASAP_TELEMANAGEMENT_ISSUER_NAME": "Coop Aide 93",
        "ASASAP_TELEMANAGEMENT_ISSUER_ADDRESS": "3 place de la Mairie, 93100 Montreuil",
        "ASASAP_TELEMANAGEMENT_ISSUER_SIRET": "12345678900017",
    }
    process = NodeProcess(tmp_path_factory.mktemp("node"), module_database_url, extra_env=issuer)
    process.init()
    process.start()
    yield Node(process)
    process.stop()


def test_a_month_resolved_validated_and_invoiced_on_a_phone(node: Node, browser: Browser) -> None:
    coordinator_and_provider(node, "coord", "aline")
    funder = node.ok(
        "POST", "/funders", {"name": "Département 93", "kind": "apa", "billing": "direct"}, user="coord"
    )
    home = node.ok(
        "POST", "/beneficiaries", {"name": "Mme Martin", "address": "12 rue de Paris"}, user="coord"
    )
    month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    plan = node.ok(
        "POST",
        "/plans",
        {
            "beneficiary_id": home["id"],
            "funder_id": funder["id"],
            "folder_number": "APA-7",
            "valid_from": (date.today() - timedelta(days=70)).isoformat(),
            "hourly_rate": "24.58",
            "participation": "10",
            "hours": {"housework": "12"},
        },
        user="coord",
    )
    [visit] = node.ok(
        "POST",
        "/visits",
        {"plan_id": plan["id"], "category": "housework", "start": f"{month}-05T14:00", "minutes": 90,
         "provider": "aline"},
        user="coord",
    )  # fmt: skip

    c = phone_page(browser, node.url, "coord")
    c.goto(f"{node.url}/telemanagement/billing?funder={funder['id']}&month={month}")
    item = c.locator(f'[data-visit="{visit["id"]}"]')
    expect(item).to_be_visible()
    fits(c)
    item.get_by_label("Code d'ajustement (ESPPADOM)").select_option("CO2")
    item.get_by_label("Début retenu (pour une correction)").fill(f"{month}-05T14:05")
    item.get_by_label("Fin retenue (pour une correction)").fill(f"{month}-05T15:35")
    item.get_by_role("button", name="Traiter").click()
    expect(c.get_by_role("status")).to_have_text("Les anomalies de la visite sont traitées.")
    expect(c.locator("body")).to_contain_text("Plus aucune anomalie à traiter.")
    fits(c)
    c.get_by_role("button", name="Valider le mois").click()
    expect(c.get_by_test_id("validated")).to_contain_text("le mois est verrouillé")
    c.get_by_role("button", name="Émettre les factures du mois").click()
    expect(c.get_by_role("status")).to_have_text("Les factures sont émises.")
    expect(c.locator(".tm-invoices li")).to_have_count(2)
    expect(c.get_by_role("link", name="DELIVERY (XML)")).to_be_visible()
    fits(c)
    href = c.locator(".tm-invoices li a").first.get_attribute("href")
    served = c.request.get(f"{node.url}{href}")
    assert served.ok and served.headers["content-type"] == "application/pdf"
    pdf = served.body()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Coop Aide 93" in text and "APA-7" in text and "SIRET 12345678900017" in text
    assert schematron.check(facturx.xml_of(pdf)) == []
    assert pdfa.problems(pdf) == []  # its fonts embedded too
