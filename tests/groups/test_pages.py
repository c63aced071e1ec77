"""Every group page renders for its members (French by default, English on request), the forms post with
their CSRF token and answer with Post/Redirect/Get, destructive acts ask for a confirmation first, and
people outside the group do not see its internal pages."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.accounts.models import User
from node.core import db
from node.core.timeutil import utcnow
from node.groups import calendar, service
from node.groups import work as group_work
from node.market.bids import service as bids
from node.market.models import Bid
from node.settings import Settings
from tests.support.market import make_proposal, person
from tests.support.pages import login, post_form


def person_named(engine: Engine, username: str) -> User:
    with Session(engine) as s:
        return s.exec(select(User).where(col(User.username) == username)).one()


PAGES = ("", "/members", "/work", "/calendar", "/rules", "/constitution", "/offers")


def test_the_group_pages_render_and_their_forms_work(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    person(engine, "amina")
    person(engine, "bilal")
    login(client, "amina")
    created = post_form(
        client,
        "/groups/new",
        {"display_name": "Coop Montreuil", "name": "coop", "legal_shape": "scic", "territory": "Montreuil"},
    )
    assert created.status_code == 303 and created.headers["location"] == "/groups/coop/members?done=created"
    for path in PAGES:
        page = client.get("/groups/coop" + path)
        assert page.status_code == 200, (path, page.text[:500])
        assert 'lang="fr"' in page.text
    assert "Il manque un associé de la catégorie bénéficiaires." in client.get("/groups/coop/members").text
    for path in (
        "/groups",
        "/groups/new",
        "/me/groups",
        "/groups/coop/calendar?week=2026-02-02&month=2026-02",
    ):
        assert client.get(path).status_code == 200, path
    client.cookies.set("asasap_lang", "en")
    english = client.get("/groups/coop/members")
    client.cookies.delete("asasap_lang")
    assert "An associate of the category beneficiaries is missing." in english.text

    # Rules: a bad bracket is refused with the form again (422), good ones are kept (303).
    refused = post_form(
        client,
        "/groups/coop/rules",
        {
            "sharing_rule": "round_robin",
            "contribution_rate": "8",
            "contribution_brackets": "10: 5",
            "members_see": "all",
        },
    )
    assert refused.status_code == 422 and "tranches" in refused.text
    saved = post_form(
        client,
        "/groups/coop/rules",
        {
            "sharing_rule": "round_robin",
            "contribution_rate": "8",
            "contribution_brackets": "0: 10\n1000: 8",
            "members_see": "own",
        },
    )
    assert saved.status_code == 303
    assert "1000: 8" in client.get("/groups/coop/rules").text

    # A college outside 10–50 % is refused; leaving asks for a confirmation; the constitution prints.
    assert (
        post_form(
            client,
            "/groups/coop/colleges",
            {"name": "Salariés", "weight": "55"},
            token_from="/groups/coop/members",
        ).status_code
        == 422
    )
    assert (
        post_form(
            client,
            "/groups/coop/colleges",
            {"name": "Salariés", "weight": "40"},
            token_from="/groups/coop/members",
        ).status_code
        == 303
    )
    confirm = post_form(client, "/groups/coop/leave", {}, token_from="/groups/coop")
    assert confirm.status_code == 200 and "Oui, je confirme" in confirm.text
    assert "Salariés: 40 %" in client.get("/groups/coop/constitution").text
    json_summary = client.get("/groups/coop/constitution.json").json()
    assert json_summary["colleges"] == [{"name": "Salariés", "weight_percent": "40"}]

    # With an agreement of the group, assigned: the work page and the week of the calendar show it.
    dora = person(engine, "dora")
    amina = person_named(engine, "amina")
    with db.session_scope(engine) as s:
        demand = make_proposal(s, settings, dora, hours=Decimal("2"))
        group = service.group_named("coop", session=s)
        bid = group_work.answer(settings, amina, group, demand, bids.BidInput(), session=s)
    with db.session_scope(engine) as s:
        fresh = s.get(Bid, bid.id)
        assert fresh is not None
        agreement = bids.accept_bid(settings, dora, fresh, session=s)
    assign = post_form(
        client,
        f"/groups/coop/agreements/{agreement.id}/assign",
        {"member": ""},
        token_from="/groups/coop/work",
    )
    assert assign.status_code == 303  # round robin: the rules say so
    work = client.get("/groups/coop/work").text
    assert "Réalisé par" in work and "Pour" in work
    monday = calendar.monday_of((agreement.starts_at or utcnow()).astimezone(calendar.PARIS).date())
    week = client.get(f"/groups/coop/calendar?week={monday.isoformat()}").text
    assert "Entretien de la maison" in week and "amina" in week

    # Someone outside the group sees the profile, not the inside.
    client.cookies.clear()
    login(client, "bilal")
    assert client.get("/groups/coop").status_code == 200
    for path in ("/members", "/work", "/calendar", "/rules", "/constitution"):
        assert client.get("/groups/coop" + path).status_code == 404, path
    asked = post_form(client, "/groups/coop/join", {"message": "Bonjour"}, token_from="/groups/coop")
    assert asked.status_code == 303 and asked.headers["location"] == "/groups/coop?done=asked"
    assert "Votre demande attend la réponse d’un coordinateur." in client.get("/groups/coop").text
