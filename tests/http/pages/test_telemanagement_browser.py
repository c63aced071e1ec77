"""Telemanagement on a phone, in a real Chromium against a real ``asasap serve``: the coordinator reads
the home's code on the beneficiary's page; the provider opens what the QR code says, checks in with the
big button, then checks out by hand with a reason on the day page (address and door code shown); the
coordinator sees the visit done on the week board and its anomaly; a coordinator gives a whole series
to a provider after the page's dialog, then one of its visits to a provider of another node from the
visit's page, after the dialog too. Every page is French and fits a 360 px screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    browser_fixture,  # noqa: F401 - a fixture used by name
    fits,
    phone_page,
    skip_without_chromium,
)
from tests.support.nodes import Node, node_fixture  # noqa: F401 - a fixture used by name
from tests.support.telemanagement import PARIS, api_plan, coordinator_and_provider, started_ago

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()


def phone(browser: Browser, node: Node, username: str | None = None) -> Page:
    return phone_page(browser, node.url, username)


def test_a_visit_clocked_at_the_door_on_a_phone(node: Node, browser: Browser) -> None:
    coordinator_and_provider(node, "coord", "aline")
    plan = api_plan(
        node,
        "coord",
        {"name": "Mme Martin", "commune": "Montreuil", "address": "12 rue de Paris", "door_code": "4812B"},
        folder="APA-7",
    )
    start = started_ago(10)
    [visit] = node.ok(
        "POST",
        "/visits",
        {"plan_id": plan["id"], "category": "housework", "start": start, "minutes": 60, "provider": "aline"},
        user="coord",
    )

    c = phone(browser, node, "coord")
    c.goto(node.url + "/telemanagement")
    fits(c)
    c.get_by_role("link", name="Mme Martin", exact=True).click()
    expect(c.get_by_role("heading", level=1)).to_have_text("Mme Martin")
    expect(c.locator("dl.facts")).to_contain_text("4812B")
    code = c.get_by_test_id("home-code").inner_text()
    fits(c)

    a = phone(browser, node, "aline")
    a.goto(f"{node.url}/home/{code}")  # what the phone's camera opens from the QR code
    expect(a.get_by_role("heading", level=1)).to_have_text("Mme Martin")
    fits(a)
    a.get_by_role("button", name="Pointer l’arrivée").click()
    expect(a.get_by_role("status")).to_have_text("Arrivée pointée.")
    expect(a.get_by_test_id(f"state-{visit['id']}")).to_have_text("En cours")
    a.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Moi").click()
    a.get_by_role("link", name="Mes visites").first.click()
    expect(a.locator(".tm-door")).to_contain_text("12 rue de Paris")
    expect(a.locator(".tm-door")).to_contain_text("4812B")
    fits(a)
    a.get_by_label("Ou pointer à la main, parce que…").select_option("qr_damaged")
    a.get_by_role("button", name="Pointer le départ").click()
    expect(a.get_by_role("status")).to_have_text("Départ pointé.")
    expect(a.get_by_test_id(f"state-{visit['id']}")).to_have_text("Fait")

    c.goto(node.url + "/telemanagement/board")
    expect(c.locator(".tm-board")).to_contain_text("Mme Martin")
    expect(c.locator(".tm-board .tm-done")).to_have_text("Fait")
    fits(c)
    c.goto(node.url + "/telemanagement/anomalies")
    expect(c.locator(f'[data-visit="{visit["id"]}"]')).to_contain_text("Pointage manuel")
    fits(c)


def test_a_check_out_made_offline_is_sent_when_the_network_returns(node: Node, browser: Browser) -> None:
    """The provider checks in, loses the network, checks out (kept on the phone, even across a reload of
    the day page), and the check-out reaches the node with the phone's time once the network is back."""
    coordinator_and_provider(node, "coordo", "bruno")
    plan = api_plan(
        node,
        "coordo",
        {"name": "M. Leroy", "commune": "Bagnolet", "address": "3 rue Sadi Carnot", "door_code": "B12"},
        folder="CAR-9",
    )
    start = started_ago(50)
    [visit] = node.ok(
        "POST",
        "/visits",
        {"plan_id": plan["id"], "category": "housework", "start": start, "minutes": 60, "provider": "bruno"},
        user="coordo",
    )

    b = phone(browser, node, "bruno")
    b.goto(node.url + "/me/visits")
    b.evaluate("navigator.serviceWorker.ready.then(() => true)")
    b.get_by_label("Ou pointer à la main, parce que…").select_option("qr_missing")
    b.get_by_role("button", name="Pointer l’arrivée").click()
    expect(b.get_by_role("status").first).to_have_text("Arrivée pointée.")
    expect(b.get_by_test_id(f"state-{visit['id']}")).to_have_text("En cours")

    b.context.set_offline(True)
    # Under load, a check-out once reached the node while the context was offline (the emulation is not
    # certain for a page a service worker controls): the clock requests are refused too until the
    # network is back.
    clock_events = f"**/me/visits/{visit['id']}/clock"
    b.context.route(clock_events, lambda route: route.abort("internetdisconnected"))
    b.get_by_label("Ou pointer à la main, parce que…").select_option("no_network")
    b.get_by_role("button", name="Pointer le départ").click()
    expect(b.locator("#tm-sync")).to_have_text(
        "Gardé sur ce téléphone\u00a0: il sera envoyé au retour du réseau."
    )
    expect(b.get_by_test_id(f"state-{visit['id']}")).to_have_text(
        "Enregistré sur ce téléphone, pas encore envoyé"
    )
    fits(b)
    b.reload()  # the day page is still there without network, and so is what waits
    expect(b.locator(".tm-door")).to_contain_text("3 rue Sadi Carnot")
    assert b.evaluate("JSON.parse(localStorage.getItem('asasap-clock-queue')).length") == 1
    before_sending = datetime.now(UTC)
    [waiting] = [v for v in node.ok("GET", "/visits", user="coordo") if v["id"] == visit["id"]]
    assert waiting["state"] == "in_progress"

    b.context.unroute(clock_events)
    b.context.set_offline(False)
    expect(b.get_by_role("status").first).to_have_text(
        "Ce qui était gardé sur ce téléphone a été envoyé.", timeout=20_000
    )
    expect(b.get_by_test_id(f"state-{visit['id']}")).to_have_text("Fait")
    assert b.evaluate("localStorage.getItem('asasap-clock-queue')") == "[]"
    [done] = [v for v in node.ok("GET", "/visits", user="coordo") if v["id"] == visit["id"]]
    assert done["state"] == "done"
    assert datetime.fromisoformat(done["checked_out_at"]) <= before_sending  # the phone's time, not arrival
    verified = node.process.cli("telemanagement", "verify-log")
    assert verified.returncode == 0 and verified.stdout.startswith("clock log intact")


def test_a_coordinator_gives_a_whole_series_after_the_dialog(node: Node, browser: Browser) -> None:
    coordinator_and_provider(node, "coordi", "berthe")
    plan = api_plan(
        node,
        "coordi",
        {"name": "M. Roux", "commune": "Pantin", "address": "5 rue Hoche", "door_code": "1A"},
        folder="APA-12",
    )
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(PARIS).date()
    made = node.ok(
        "POST",
        "/visits",
        {"plan_id": plan["id"], "category": "housework", "start": f"{tomorrow}T09:00", "minutes": 60,
         "rule": "FREQ=WEEKLY;COUNT=4"},
        user="coordi",
    )  # fmt: skip
    page = phone(browser, node, "coordi")
    page.goto(f"{node.url}/telemanagement/plans/{plan['id']}")
    fits(page)
    section = page.locator("section", has=page.get_by_role("heading", name="Séries", exact=True))
    expect(section).to_contain_text("4 visites à venir")
    section.get_by_text("Confier la série à un intervenant").click()
    section.get_by_label("Intervenant").fill("berthe")
    fits(page)
    section.get_by_role("button", name="Confier la série", exact=True).click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("toutes les visites à venir de cette série")
    dialog.get_by_role("button", name="Confier la série", exact=True).click()
    expect(page.get_by_test_id("series-given")).to_have_text("4 visites confiées.")
    fits(page)
    ids = {v["id"] for v in made}
    berthe = [v for v in node.ok("GET", "/visits", user="coordi") if v["id"] in ids]
    assert len(berthe) == 4 and len({v["provider_id"] for v in berthe}) == 1 and berthe[0]["provider_id"]
    # One visit of it, from its own page, to a provider of another node.
    first = min(made, key=lambda v: v["starts_at"])
    page.goto(f"{node.url}/telemanagement/visits/{first['id']}")
    page.get_by_label("Intervenant").fill("https://bagnolet.test/users/bob")
    fits(page)
    page.get_by_role("button", name="Confier à", exact=True).click()
    expect(dialog).to_contain_text("ici ou sur un autre nœud")
    dialog.get_by_role("button", name="Confier la visite", exact=True).click()
    expect(page.get_by_text("La visite a été attribuée.")).to_be_visible()
    fits(page)
    given = {v["id"]: v for v in node.ok("GET", "/visits", user="coordi")}[first["id"]]
    assert given["provider_id"] is None
