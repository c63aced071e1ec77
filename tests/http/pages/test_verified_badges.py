"""Verified-status badges on profiles and on the cards of the search page: a SIRET whose check key is
right, an agrément number given, membership of a cooperative group of this node; each says what was
checked and what was not, in French and in English; a wrong agrément number is refused."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.core import db
from node.settings import Settings
from tests.support.groups import make_group
from tests.support.market import make_proposal, person
from tests.support.pages import login, post_form

SIRET = "73282932000074"  # a right Luhn key


def profile_form(**changes: str) -> dict[str, str | list[str]]:
    return {
        "display_name": "Bob",
        "postal_code": "93100",
        "commune_name": "Montreuil",
        "offers_services": "on",
        "provider_status": "self_employed",
        "siret": SIRET,
        **changes,
    }


def test_badges_say_what_was_checked(client: TestClient, engine: Engine, settings: Settings) -> None:
    bob = person(engine, "bob")
    carole = person(engine, "carole", status="cooperative_member")
    person(engine, "dina", status="volunteer")
    make_group(engine, settings, carole, shape="scic")
    with db.session_scope(engine) as session:
        make_proposal(session, settings, bob, purpose="offer")
        make_proposal(session, settings, carole, purpose="offer")

    login(client, "bob")
    wrong = post_form(client, "/settings/profile", profile_form(approval_number="x"))
    assert wrong.status_code == 422 and "numéro d’agrément compte de 3 à 40" in wrong.text
    saved = post_form(client, "/settings/profile", profile_form(approval_number="SAP 732829320"))
    assert saved.status_code == 303

    page = client.get("/users/bob").text
    assert "Vérifié par ce nœud" in page
    assert "SIRET vérifié" in page and "clé de contrôle (Luhn)" in page and "répertoire SIRENE" in page
    assert "Numéro d’agrément indiqué" in page and "SAP 732829320" in page and "services de l’État" in page
    assert "Membre d’une coopérative" not in page

    coop = client.get("/users/carole").text
    assert "Membre d’une coopérative" in coop and "Coop" in coop and "SIRET vérifié" not in coop
    assert "Vérifié par ce nœud" not in client.get("/users/dina").text  # nothing checked, no badge

    cards = client.get("/proposals").text
    assert cards.count("badge verified verified-siret") == 1
    assert cards.count("badge verified verified-cooperative") == 1

    english = post_form(client, "/language", {"language": "en", "next": "/"}, token_from="/users/bob")
    assert english.status_code == 303
    page = client.get("/users/bob").text
    assert "Checked by this node" in page and "Not checked in the SIRENE register" in page
