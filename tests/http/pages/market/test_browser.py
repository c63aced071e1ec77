"""The marketplace through the pages, as people on their phones do it: a real Chromium driven by
Playwright against a real ``asasap serve``. Alice posts a demand open to answers; Bob and Carol answer
it (each sees only their own answer); Alice accepts Bob; they share contact details, confirm the
service and evaluate each other, double-blind; each is told in their notifications. Every page shown
is French and fits a 360 px screen.

Set ``ASASAP_SCREENSHOT_DIR`` to keep full-page screenshots of the proposal, agreement and evaluation
pages as a phone shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, Response, expect
from sqlalchemy import Engine

from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import (
    PHONE_WIDTH,
    browser_fixture,  # noqa: F401 - a fixture used by name
    phone_context,
    skip_without_chromium,
)
from tests.support.nodes import NodeProcess

pytestmark = [pytest.mark.browser, pytest.mark.process]

skip_without_chromium()

WIDTH = PHONE_WIDTH
PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
NBSP = "\u00a0"
TITLE = "Ménage hebdomadaire"
HOUSEWORK = "Entretien de la maison et travaux ménagers"
BOB_MESSAGE = "Bonjour, je fais le ménage chez des particuliers depuis dix ans."
CAROL_MESSAGE = "Disponible toute la semaine, produits fournis."
BOB_ADDRESS = "4 rue Sadi Carnot, 93170 Bagnolet"
ALICE_ADDRESS = "12 rue de Paris, 93100 Montreuil, code 4521B"
ALICE_COMMENT = "Travail soigné, à l'heure, très aimable."
BOB_COMMENT = "Consignes claires, accueil chaleureux."


@dataclass
class Person:
    """One person's phone: a browser tab whose every page is checked for language and width."""

    page: Page
    base_url: str
    loaded: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("load", lambda page: self.loaded.append(page.url))
        self.page.on("response", self._watch)

    def _watch(self, response: Response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def check(self) -> None:
        """The page shown is French and has no horizontal scroll at 360 px."""
        expect(self.page.locator("html")).to_have_attribute("lang", "fr")
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"page is {width}px wide on a {WIDTH}px screen: {self.page.url}"
        self.checked.add(self.page.url)

    def go(self, path: str) -> Response | None:
        """Type an address (what a person does with a link from elsewhere)."""
        response = self.page.goto(self.base_url + path)
        self.check()
        return response

    def follow(self, target: Locator) -> None:
        """Activate a link or a submit button, wait for the next page, check it."""
        with self.page.expect_navigation():
            target.click()
        self.check()

    def press_enter(self) -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        self.check()

    def menu(self, name: str | re.Pattern[str]) -> None:
        """Follow a link of the main menu, or of the "Me" page it leads to."""
        tabs = self.page.get_by_role("navigation", name="Menu principal")
        if tabs.get_by_role("link", name=name).count() == 0:
            self.follow(tabs.get_by_role("link", name="Moi", exact=True))
            self.follow(self.page.locator("main").get_by_role("link", name=name, exact=isinstance(name, str)))
            return
        self.follow(tabs.get_by_role("link", name=name))

    def button(self, name: str) -> None:
        self.follow(self.page.get_by_role("button", name=name, exact=True))

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("ASASAP_SCREENSHOT_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    def unchecked_pages(self) -> list[str]:
        return [url for url in self.loaded if url not in self.checked]


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: Engine) -> Iterator[NodeProcess]:
    process = NodeProcess(
        tmp_path / "node", database_url, extra_env={"ASASAP_NODE_NAME": "Montreuil Services"}
    )
    process.init()
    for username in ("alice", "bob", "carol"):
        make_user(engine, username)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def phones(browser: Browser, node: NodeProcess) -> Iterator[dict[str, Person]]:
    """A phone each for Alice, Bob and Carol (separate browser contexts: separate sessions)."""
    contexts = [phone_context(browser) for _ in range(3)]
    people = {}
    for name, context in zip(("alice", "bob", "carol"), contexts, strict=True):
        page = context.new_page()
        page.set_default_timeout(10_000)
        people[name] = Person(page, node.base_url)
    yield people
    for context in contexts:
        context.close()


def _log_in(person: Person, username: str) -> None:
    person.go("/login")
    person.page.get_by_label("Identifiant").fill(username)
    person.page.get_by_label("Mot de passe").fill(PASSWORD)
    person.press_enter()
    expect(person.page.get_by_role("link", name="Moi", exact=True)).to_be_visible()


def _describe_self(person: Person, name: str, postal_code: str, commune: str, *, provider: bool) -> None:
    page = person.page
    person.go("/settings/profile")
    page.get_by_label("Nom affiché").fill(name)
    page.get_by_label("Code postal").fill(postal_code)
    page.get_by_label("Nom de la commune").fill(commune)
    if provider:
        page.get_by_label("Je propose des services").check()
        page.get_by_label("Statut de prestataire").select_option(label="Particulier")
        page.get_by_text("Vie quotidienne et ménage").click()
        page.get_by_label(HOUSEWORK).check()
    else:
        page.get_by_label("Je demande des services").check()
    person.button("Enregistrer")
    expect(page.locator("h1")).to_have_text(name)


def _french_day(day: date) -> str:
    """``vendredi 4 décembre``, with the year only when it is not this one (``… 2027``)."""
    year = f" {day.year}" if day.year != date.today().year else ""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}{year}"


def _answer(person: Person, amount: str, message: str) -> None:
    page = person.page
    page.get_by_label("Montant", exact=True).fill(amount)
    page.get_by_label("Le montant s'entend").select_option(label="de l'heure")
    page.get_by_label("Message à la personne qui a publié l'annonce").fill(message)
    person.button("Envoyer ma réponse")


def _bid_card(page: Page, name: str) -> Locator:
    return page.locator("li.bid-card").filter(has=page.get_by_role("heading", name=re.compile(f"^{name}")))


def _scores(page: Page, legend: str, label: str) -> None:
    page.get_by_role("group", name=legend, exact=True).get_by_label(label, exact=True).check()


def test_demand_answers_agreement_and_evaluations_through_the_pages(
    node: NodeProcess, phones: dict[str, Person]
) -> None:
    alice, bob, carol = phones["alice"], phones["bob"], phones["carol"]
    a, b = alice.page, bob.page
    now = datetime.now(PARIS)
    service_day = (now + timedelta(days=7)).date()
    deadline_day = (now + timedelta(days=3)).date()

    # 1. Alice posts a demand open to answers, and finds it on her list and on the browse page.
    _log_in(alice, "alice")
    _describe_self(alice, "Alice Durand", "93100", "Montreuil", provider=False)
    alice.menu("Rechercher")
    alice.follow(a.get_by_role("link", name="Demander un service"))
    expect(a.get_by_label("demander un service")).to_be_checked()
    a.get_by_label("Titre").fill(TITLE)
    a.get_by_label("Description").fill("Ménage d'un appartement de 60 m², deux chambres, sans animaux.")
    a.get_by_role("combobox", name="Service", exact=True).select_option(label=HOUSEWORK)
    expect(a.get_by_label("Code postal")).to_have_value("93100")
    a.get_by_label("Une seule fois, à une date précise").check()
    a.get_by_label("Début", exact=True).fill(f"{service_day.isoformat()}T09:00")
    a.get_by_label("Fin", exact=True).fill(f"{service_day.isoformat()}T12:00")
    a.get_by_label("Nombre d'heures (facultatif)").fill("3")
    a.get_by_label("Montant", exact=True).fill("60")
    a.get_by_label("pour toute la prestation").check()
    a.get_by_label(re.compile("^Demandes.*réponses acceptées")).fill(f"{deadline_day.isoformat()}T18:00")
    alice.button("Publier")
    expect(a.get_by_role("status")).to_have_text("Votre annonce est publiée.")
    expect(a.get_by_role("heading", level=1)).to_have_text(TITLE)
    facts = a.locator("dl.facts")
    expect(facts).to_contain_text("Montreuil (93100)")
    expect(facts).to_contain_text(f"le {_french_day(service_day)} de 9 h à 12 h")
    expect(facts).to_contain_text(f"3{NBSP}h")
    expect(facts).to_contain_text(f"60{NBSP}€")
    expect(facts).to_contain_text(
        re.compile(
            rf"Date limite des réponses\s*{WEEKDAYS[deadline_day.weekday()]} {deadline_day.day} "
            rf"{MONTHS[deadline_day.month - 1]}( {deadline_day.year})? à 18:00"
        )
    )
    expect(a.get_by_role("heading", name="Réponses reçues")).to_be_visible()
    expect(a.get_by_text("Aucune réponse pour l'instant.")).to_be_visible()
    proposal_path = a.url.split("?")[0].removeprefix(node.base_url)

    alice.menu("Mes annonces")
    expect(a.locator("li.proposal-card").get_by_role("link", name=TITLE, exact=True)).to_be_visible()
    alice.menu("Rechercher")
    expect(a.locator("li.proposal-card").get_by_role("link", name=TITLE, exact=True)).to_be_visible()

    # 2. Carol, then Bob, find the demand through the filters and answer it; each sees only their own.
    for person, username, name, amount, message in (
        (carol, "carol", "Carol Petit", "17", CAROL_MESSAGE),
        (bob, "bob", "Bob Martin", "19", BOB_MESSAGE),
    ):
        p = person.page
        _log_in(person, username)
        _describe_self(person, name, "93170", "Bagnolet", provider=True)
        person.menu("Rechercher")
        p.get_by_text("Plus de filtres").click()
        p.get_by_label("Offres ou demandes").select_option(label="Offres")
        p.get_by_label("Service", exact=True).select_option(label=HOUSEWORK)
        p.get_by_label("Commune ou code postal").fill("93100")
        person.button("Rechercher")
        expect(p.locator(".result-count")).to_contain_text("0 résultats")
        expect(p.get_by_text("Aucun résultat pour l'instant.")).to_be_visible()
        p.get_by_label("Offres ou demandes").select_option(label="Demandes")
        person.button("Rechercher")
        results = p.locator("li.proposal-card")
        expect(results).to_have_count(1)
        expect(results).to_contain_text(HOUSEWORK)
        expect(results).to_contain_text("Montreuil (93100)")
        person.follow(results.get_by_role("link", name=TITLE, exact=True))
        expect(p.get_by_role("heading", name="Répondre à cette demande")).to_be_visible()
        _answer(person, amount, message)
        expect(p.get_by_text(re.compile("^Vous avez répondu le"))).to_be_visible()
        expect(p.locator(".bid-card.own")).to_contain_text(f"{amount}{NBSP}€/h")
        person.menu("Mes réponses")
        mine = p.locator("li.bid-card")
        expect(mine).to_have_count(1)
        expect(mine).to_contain_text(TITLE)
        expect(mine).to_contain_text("En attente du choix de la personne qui a publié l'annonce")
        expect(mine).to_contain_text(f"{amount}{NBSP}€/h")

    # Bob sees nothing of Carol's answer: not on the demand's page, not among answers received.
    bob.go(proposal_path)
    expect(b.get_by_role("heading", name="Réponses reçues")).to_have_count(0)
    page_text = b.locator("main").inner_text()
    assert "Carol" not in page_text and CAROL_MESSAGE not in page_text and f"17{NBSP}€" not in page_text
    bob.menu("Mes réponses")
    bob.follow(b.get_by_role("link", name="Réponses reçues à mes annonces"))
    expect(b.get_by_text("Aucune réponse reçue pour l'instant.")).to_be_visible()
    assert "Carol" not in b.locator("main").inner_text()

    # 3. Alice is told of the answers, sees them with price, reputation and distance, and accepts Bob's
    # (not the cheapest).
    alice.menu("Mes annonces")
    alice.menu(re.compile(r"^Notifications \(2\)$"))
    told = a.locator("ul.notifications li").filter(has_text="Bob Martin")
    expect(told).to_contain_text("Nouvelle réponse à votre annonce")
    alice.follow(told.get_by_role("link"))
    expect(a.get_by_role("heading", level=1)).to_have_text("Réponses reçues")
    expect(_bid_card(a, "Bob Martin")).to_contain_text(BOB_MESSAGE)
    alice.follow(a.get_by_role("heading", level=2).get_by_role("link", name=TITLE, exact=True))
    expect(a.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(a.locator("li.bid-card")).to_have_count(2)
    bob_card = _bid_card(a, "Bob Martin")
    expect(bob_card).to_contain_text(f"19{NBSP}€/h")
    expect(bob_card).to_contain_text("Aucune évaluation pour l'instant.")
    expect(bob_card.locator("dd").filter(has_text=re.compile(rf"^\d+{NBSP}km$"))).to_have_count(1)
    expect(bob_card).to_contain_text(BOB_MESSAGE)
    expect(_bid_card(a, "Carol Petit")).to_contain_text(f"17{NBSP}€/h")
    alice.screenshot("proposal-with-answers")
    a.get_by_role("button", name="Accepter Bob Martin", exact=True).click()
    dialog = a.get_by_role("dialog")
    expect(dialog).to_contain_text("Les autres réponses à cette annonce seront déclinées.")
    alice.follow(dialog.get_by_role("button", name="Accepter"))
    expect(a.get_by_role("status")).to_have_text(
        "Vous avez accepté cette réponse\u00a0: l'accord est conclu."
    )
    expect(a.get_by_role("heading", level=1)).to_have_text(f"Accord\u00a0: {TITLE}")
    expect(a.locator("p > .badge").first).to_have_text("Conclu, à réaliser")
    timeline = a.locator("ol.timeline li")
    expect(timeline).to_have_count(1)
    expect(timeline).to_contain_text("Réponse acceptée\u00a0: l'accord est conclu")
    expect(timeline).to_contain_text("Alice Durand")
    agreement_path = a.url.split("?")[0].removeprefix(node.base_url)
    alice.follow(a.locator("dl.facts").get_by_role("link", name=TITLE, exact=True))
    expect(a.locator("article .badge").filter(has_text="Clôturée")).to_be_visible()
    expect(_bid_card(a, "Bob Martin")).to_contain_text("Acceptée")
    expect(_bid_card(a, "Carol Petit")).to_contain_text("Déclinée")
    expect(a.get_by_role("button", name=re.compile("^Accepter"))).to_have_count(0)
    alice.menu("Mes annonces")
    expect(a.locator("li.proposal-card").filter(has_text=TITLE)).to_contain_text("Clôturée")
    alice.menu("Rechercher")  # open proposals only
    expect(a.get_by_text("Aucun résultat pour l'instant.")).to_be_visible()
    carol.menu("Mes réponses")
    expect(carol.page.locator("li.bid-card")).to_contain_text("Non retenue")

    # 4. Bob is told, finds the agreement; both share contact details, seen by the two of them only.
    bob.menu(re.compile(r"^Notifications"))
    expect(b.locator("ul.notifications li").filter(has_text="Votre réponse a été acceptée")).to_contain_text(
        "Alice Durand"
    )
    bob.menu("Mes accords")
    listed = b.locator("li.bid-card")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Conclu, à réaliser")
    expect(listed).to_contain_text("Avec Alice Durand")
    bob.follow(listed.get_by_role("link", name=TITLE, exact=True))
    assert b.url.removeprefix(node.base_url) == agreement_path
    expect(b.locator("dl.facts").first).to_contain_text("Bob Martin (vous)")
    expect(b.get_by_text("Pas encore communiquées.")).to_be_visible()
    b.get_by_label("Adresse").fill(BOB_ADDRESS)
    b.get_by_label("Téléphone").fill("06 12 34 56 78")
    bob.button("Communiquer à l'autre partie")
    expect(b.get_by_role("status")).to_have_text("Vos coordonnées ont été communiquées à l'autre partie.")
    alice.go(agreement_path)
    theirs = a.locator("section[aria-labelledby=c-title] dl.facts").first
    expect(theirs).to_contain_text(BOB_ADDRESS)
    expect(theirs.get_by_role("link", name="06 12 34 56 78")).to_have_attribute("href", "tel:0612345678")
    a.get_by_label("Adresse").fill(ALICE_ADDRESS)
    a.get_by_label("Téléphone").fill("07 98 76 54 32")
    alice.button("Communiquer à l'autre partie")
    bob.go(agreement_path)
    expect(b.locator("section[aria-labelledby=c-title] dl.facts").first).to_contain_text(ALICE_ADDRESS)
    refused = carol.go(agreement_path)
    assert refused is not None and refused.status == 404
    carol.menu("Mes accords")
    carol_text = carol.page.locator("main").inner_text()
    assert ALICE_ADDRESS not in carol_text and BOB_ADDRESS not in carol_text and TITLE not in carol_text

    # Both confirm that the service was done: the agreement is completed for both.
    bob.button("La prestation a été réalisée")
    expect(b.get_by_role("status")).to_have_text("Votre confirmation a été enregistrée et transmise.")
    expect(b.locator("p > .badge").first).to_have_text("Confirmé par l'une des parties")
    alice.go(agreement_path)
    alice.button("La prestation a été réalisée")
    expect(a.locator("p > .badge").first).to_have_text("Terminé")
    expect(
        a.locator("ol.timeline li").filter(has_text="Réalisation de la prestation confirmée")
    ).to_have_count(2)
    expect(a.get_by_role("button", name="La prestation a été réalisée")).to_have_count(0)
    alice.screenshot("agreement-completed")
    bob.menu("Mes accords")
    expect(b.locator("li.bid-card")).to_contain_text("Terminé")

    # 5. Double-blind evaluations: Alice's stays hidden from Bob until he has evaluated her.
    alice.go(agreement_path)
    alice.follow(a.get_by_role("link", name="Évaluer l'autre partie"))
    expect(a.get_by_role("heading", level=1)).to_have_text("Évaluer Bob Martin")
    alice.screenshot("evaluation-form")
    _scores(a, "Note globale", "5 – Excellent")
    _scores(a, "Ponctualité", "5 – Excellent")
    _scores(a, "Qualité du travail", "4 – Bon")
    _scores(a, "Respect", "5 – Excellent")
    a.get_by_label("Commentaire (facultatif)").fill(ALICE_COMMENT)
    alice.button("Envoyer mon évaluation")
    expect(a.get_by_role("status")).to_have_text("Votre évaluation est enregistrée.")
    expect(a.get_by_text(re.compile("^Personne d'autre ne la voit pour l'instant"))).to_be_visible()
    expect(a.get_by_text("Elle sera affichée une fois les deux évaluations publiées.")).to_be_visible()

    bob.menu(re.compile(r"^Notifications"))
    evaluated = b.locator("ul.notifications li").filter(has_text="Vous avez été évalué·e")
    expect(evaluated).to_contain_text("Alice Durand")
    bob.follow(evaluated.get_by_role("link"))
    expect(b.get_by_role("heading", level=1)).to_have_text("Évaluer Alice Durand")
    assert ALICE_COMMENT not in b.locator("main").inner_text()
    bob.menu("Mon profil")
    expect(b.locator("section.reputation")).to_contain_text("Aucune évaluation pour l'instant.")
    bob.go(agreement_path)
    bob.follow(b.get_by_role("link", name="Évaluer l'autre partie"))
    _scores(b, "Note globale", "4 – Bon")
    _scores(b, "Clarté de la demande", "4 – Bon")
    _scores(b, "Accueil", "5 – Excellent")
    b.get_by_label("Commentaire (facultatif)").fill(BOB_COMMENT)
    b.get_by_role("button", name="Envoyer mon évaluation").focus()
    bob.press_enter()
    expect(b.get_by_role("status")).to_have_text("Votre évaluation est enregistrée.")
    by_alice = b.locator("section[aria-labelledby=theirs-title]")
    expect(by_alice.get_by_role("heading")).to_have_text("Évaluation donnée par Alice Durand")
    expect(by_alice).to_contain_text("5 sur 5")
    expect(by_alice).to_contain_text(ALICE_COMMENT)

    alice.page.reload()
    alice.check()
    by_bob = a.locator("section[aria-labelledby=theirs-title]")
    expect(by_bob).to_contain_text("4 sur 5")
    expect(by_bob).to_contain_text(BOB_COMMENT)

    bob.menu("Mon profil")
    reputation = b.locator("section.reputation")
    expect(reputation).to_contain_text("5,0 sur 5")
    expect(reputation).to_contain_text("1 évaluation")
    alice.go("/users/bob")
    expect(a.locator("section.reputation")).to_contain_text("5,0 sur 5")
    expect(a.locator("section.reputation")).to_contain_text("1 évaluation")
    alice.go("/users/alice")
    expect(a.locator("section.reputation")).to_contain_text("4,0 sur 5")

    # 6. Notifications: the answer for Alice, the acceptance for Bob, the evaluations for both.
    alice.menu(re.compile(r"^Notifications"))
    for_alice = a.locator("ul.notifications li")
    expect(
        for_alice.filter(has_text="Nouvelle réponse à votre annonce").filter(has_text="Bob Martin")
    ).to_have_count(1)
    expect(for_alice.filter(has_text="Votre réponse a été acceptée")).to_have_count(0)
    expect(for_alice.filter(has_text="Évaluations publiées")).to_have_count(1)
    bob.menu(re.compile(r"^Notifications"))
    for_bob = b.locator("ul.notifications li")
    expect(for_bob.filter(has_text="Votre réponse a été acceptée")).to_have_count(1)
    expect(for_bob.filter(has_text="Nouvelle réponse à votre annonce")).to_have_count(0)
    expect(for_bob.filter(has_text="Évaluations publiées")).to_have_count(1)

    # 7. Every page shown was checked, and the server never failed.
    for person in (alice, bob, carol):
        assert person.loaded and person.unchecked_pages() == [], person.unchecked_pages()
        assert person.server_errors == [], node.log_tail()
    assert "Traceback" not in node.log_tail(200), node.log_tail(200)
