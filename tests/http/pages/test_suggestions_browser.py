"""Suggestions pour vous on a phone, in a real Chromium against a real ``asasap serve``: a gardener sees
the demand she could answer with its reasons, within a 360 px screen, and sets her radius and alerts."""

from __future__ import annotations

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


def test_suggestions_on_a_phone(node: Node, browser: Browser) -> None:
    node.add_person("alice")
    node.add_person("carla")
    profile = {
        "postal_code": "93170",
        "commune_name": "Bagnolet",
        "offers_services": True,
        "provider_status": "private_individual",
        "categories": ["gardening"],
    }
    node.ok("PATCH", "/me", profile, user="carla")
    demand = {
        "purpose": "request",
        "title": "Tonte de pelouse",
        "category": "gardening",
        "postal_code": "93100",
        "commune_name": "Montreuil",
    }
    node.ok("POST", "/proposals", demand, user="alice")

    page = phone_page(browser, node.url, "carla")
    page.goto(node.url + "/me")
    page.get_by_role("link", name="Suggestions pour vous").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Suggestions pour vous")
    answers = page.get_by_role("region", name="Demandes auxquelles vous pourriez répondre")
    expect(answers.get_by_role("link", name="Tonte de pelouse")).to_be_visible()
    expect(answers.get_by_text("Pourquoi\u00a0: même service")).to_be_visible()
    fits(page)

    page.get_by_label("Rayon d'intervention (km)").fill("250")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("alert")).to_contain_text("Un rayon de 1 à 200 km.")
    fits(page)
    page.get_by_label("Rayon d'intervention (km)").fill("1")
    page.get_by_label("Me prévenir des nouvelles demandes", exact=False).check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_have_text("Vos réglages des suggestions sont enregistrés.")
    expect(page.get_by_text("Aucune demande ouverte ne correspond")).to_be_visible()  # 2 km > 1 km
    assert node.ok("GET", "/matches/settings", user="carla") == {
        "radius_km": 1,
        "own_radius": True,
        "alerts": True,
    }
