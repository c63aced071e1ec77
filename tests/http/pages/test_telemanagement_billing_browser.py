"""Telemanagement billing on a phone, in a real Chromium against a real ``asasap serve``: the
coordinator resolves last month's unclocked visit with a code and its retained times, validates the
month, issues the invoices and finds them listed; every page is French and fits a 360 px screen."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_page,
    skip_without_chromium,
)
from tests.support.nodes import Node, node_fixture  # noqa: F401 - a fixture used by name

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


def test_a_month_resolved_validated_and_invoiced_on_a_phone(node: Node, browser: Browser) -> None:
    node.add_person("coord")
    node.add_person("aline")
    assert node.process.cli("user", "set-role", "coord", "coordinator").returncode == 0
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
