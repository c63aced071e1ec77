"""A coordinator acts for the group on its pages as a person does on theirs: cancels, disputes,
confirms and evaluates the group's agreements, and edits the group's profile; refusals show the page
again with the reason and change nothing; a reload of an action's address goes back to the page."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.accounts import credentials
from node.accounts.models import User
from node.activitypub.models import OutboxActivity
from node.core import db
from node.groups import records, service
from node.groups import work as group_work
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.models import Agreement, Bid, Evaluation, Notification, Proposal
from node.settings import Settings
from tests.support.groups import make_group
from tests.support.market import make_proposal, person
from tests.support.pages import csrf, login, post_form

GROUP = "http://testserver/groups/coop"


def _agreement(engine: Engine, settings: Settings, coordinator: User, requester: User) -> Agreement:
    """An agreement the group provides to ``requester`` (its answer to their demand, accepted)."""
    with db.session_scope(engine) as s:
        demand = make_proposal(s, settings, requester, hours=Decimal("2"))
        group = service.group_named("coop", session=s)
        bid = group_work.answer(settings, coordinator, group, demand, bids.BidInput(), session=s)
    with db.session_scope(engine) as s:
        fresh = s.get(Bid, bid.id)
        assert fresh is not None
        return bids.accept_bid(settings, requester, fresh, session=s)


def _state(engine: Engine, agreement_id: int | None) -> Agreement:
    with Session(engine) as s:
        row = s.get(Agreement, agreement_id)
        assert row is not None
        return row


def test_a_coordinator_cancels_disputes_and_evaluates_for_the_group(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    amina = person(engine, "amina")
    dora = person(engine, "dora")
    bilal = person(engine, "bilal")
    make_group(engine, settings, amina, joining=(bilal,))
    assert settings.url("/groups/coop") == GROUP
    first = _agreement(engine, settings, amina, dora)
    second = _agreement(engine, settings, amina, dora)
    login(client, "amina")
    work = client.get("/groups/coop/work").text
    for path in (f"{first.id}/cancel", f"{first.id}/dispute", f"{second.id}/cancel"):
        assert f'action="/groups/coop/agreements/{path}"' in work, path

    # A dispute needs a reason: refused with the page again (422), nothing changed.
    refused = post_form(
        client, f"/groups/coop/agreements/{first.id}/dispute", {"reason": " "}, token_from="/groups/coop/work"
    )
    assert refused.status_code == 422 and "Précisez le motif." in refused.text
    assert _state(engine, first.id).disputed_by_uri is None
    disputed = post_form(
        client,
        f"/groups/coop/agreements/{first.id}/dispute",
        {"reason": "Personne n’est venu."},
        token_from="/groups/coop/work",
    )
    assert disputed.status_code == 303
    row = _state(engine, first.id)
    assert (
        row.state == "disputed"
        and row.disputed_by_uri == GROUP
        and row.dispute_reason == "Personne n’est venu."
    )
    with Session(engine) as s:
        told = s.exec(
            select(Notification).where(
                col(Notification.user_id) == dora.id, col(Notification.kind) == "agreement_disputed"
            )
        ).all()
    assert len(told) == 1
    # Disputed once: no second dispute offered, and a second one is refused with the reason.
    assert f'action="/groups/coop/agreements/{first.id}/dispute"' not in client.get("/groups/coop/work").text
    token = csrf(client, "/groups/coop/work", f"/groups/coop/agreements/{second.id}/dispute")
    again = client.post(
        f"/groups/coop/agreements/{first.id}/dispute", data={"csrf_token": token, "reason": "Encore"}
    )
    assert again.status_code == 409 and "Cet accord ne peut plus être contesté." in again.text
    assert _state(engine, first.id).dispute_reason == "Personne n’est venu."
    cancelled = post_form(
        client,
        f"/groups/coop/agreements/{second.id}/cancel",
        {"reason": "Plus personne de libre."},
        token_from="/groups/coop/work",
    )
    assert cancelled.status_code == 303
    assert _state(engine, second.id).cancelled_by_uri == GROUP
    # A reload of the action's address goes back to the work page instead of 405.
    reload = client.get(f"/groups/coop/agreements/{second.id}/cancel", follow_redirects=False)
    assert reload.status_code == 303 and reload.headers["location"] == "/groups/coop/work"

    # A completed agreement: the coordinator evaluates the requester for the group.
    third = _agreement(engine, settings, amina, dora)
    assert (
        post_form(
            client, f"/groups/coop/agreements/{third.id}/confirm", {}, token_from="/groups/coop/work"
        ).status_code
        == 303
    )
    with db.session_scope(engine) as s:
        fresh = s.get(Agreement, third.id)
        assert fresh is not None
        agreements.confirm_completion(settings, dora, fresh, session=s)
    assert _state(engine, third.id).state == "completed"
    evaluate = f"/groups/coop/agreements/{third.id}/evaluate"
    assert f'href="{evaluate}"' in client.get("/groups/coop/work").text
    form = client.get(evaluate)
    assert form.status_code == 200 and f'action="{evaluate}"' in form.text
    empty = post_form(client, evaluate, {"comment": "Très bien"})
    assert empty.status_code == 422
    with Session(engine) as s:
        assert s.exec(select(Evaluation).where(col(Evaluation.evaluator_uri) == GROUP)).first() is None
    sent = post_form(client, evaluate, {"overall": "5", "comment": "Accueil parfait."})
    assert sent.status_code == 303 and sent.headers["location"] == f"{evaluate}?done=1"
    with Session(engine) as s:
        mine = s.exec(select(Evaluation).where(col(Evaluation.evaluator_uri) == GROUP)).one()
    assert mine.overall == 5 and mine.evaluated_uri == settings.url("/users/dora")
    assert "Votre évaluation est enregistrée." in client.get(f"{evaluate}?done=1").text

    # A member who does not coordinate sees neither the actions nor the evaluation form.
    client.cookies.clear()
    login(client, "bilal")
    assert "/cancel" not in client.get("/groups/coop/work").text
    assert client.get(evaluate).status_code == 403


def test_a_coordinator_edits_the_groups_profile(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    amina = person(engine, "amina")
    person(engine, "bilal")
    make_group(engine, settings, amina)
    login(client, "amina")
    assert 'href="/groups/coop/edit"' in client.get("/groups/coop").text
    page = client.get("/groups/coop/edit")
    assert page.status_code == 200 and 'value="Coop"' in page.text

    refused = post_form(client, "/groups/coop/edit", {"display_name": "C", "legal_shape": "scic"})
    assert refused.status_code == 422
    with Session(engine) as s:
        assert service.group_named("coop", session=s).display_name == "Coop"
        before = len(s.exec(select(OutboxActivity).where(col(OutboxActivity.actor_uri) == GROUP)).all())

    saved = post_form(
        client,
        "/groups/coop/edit",
        {
            "display_name": "Coop Montreuil",
            "summary": "Ménage et repassage.",
            "territory": "Montreuil",
            "legal_shape": "cae",
            "join_policy": "approval",
            "categories": ["gardening", "housework"],
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/groups/coop?done=saved"
    with Session(engine) as s:
        group = service.group_named("coop", session=s)
        assert (group.display_name, group.legal_shape, group.join_policy) == (
            "Coop Montreuil",
            "cae",
            "approval",
        )
        assert json.loads(group.categories) == ["gardening", "housework"]
        published = s.exec(
            select(OutboxActivity).where(
                col(OutboxActivity.actor_uri) == GROUP, col(OutboxActivity.type) == "Update"
            )
        ).all()
        assert (
            len(s.exec(select(OutboxActivity).where(col(OutboxActivity.actor_uri) == GROUP)).all()) > before
        )
    assert published, "the followers get the group's Update"
    assert "Ménage et repassage." in client.get("/groups/coop").text

    # Someone who does not coordinate the group cannot edit it.
    client.cookies.clear()
    login(client, "bilal")
    assert client.get("/groups/coop/edit").status_code == 403
    assert "/groups/coop/edit" not in client.get("/groups/coop").text


def test_the_api_cancels_and_disputes_for_the_group(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    amina = person(engine, "amina")
    dora = person(engine, "dora")
    make_group(engine, settings, amina)
    with db.session_scope(engine) as s:
        as_amina = {"Authorization": f"Bearer {credentials.create_api_token(amina, 't', session=s)[1]}"}
        as_dora = {"Authorization": f"Bearer {credentials.create_api_token(dora, 't', session=s)[1]}"}
    first = _agreement(engine, settings, amina, dora)
    second = _agreement(engine, settings, amina, dora)
    base = "/api/v1/groups/coop/agreements"
    # Only a coordinator acts for the group; a dispute needs a reason; unknown fields are refused.
    assert client.post(f"{base}/{first.id}/dispute", json={"reason": "x"}, headers=as_dora).status_code == 403
    assert client.post(f"{base}/{first.id}/dispute", json={"reason": ""}, headers=as_amina).status_code == 422
    assert client.post(f"{base}/{first.id}/cancel", json={"why": "x"}, headers=as_amina).status_code == 422
    assert _state(engine, first.id).state == "accepted"
    disputed = client.post(f"{base}/{first.id}/dispute", json={"reason": "Absent."}, headers=as_amina)
    assert disputed.status_code == 200 and disputed.json()["state"] == "disputed"
    assert client.post(f"{base}/{first.id}/cancel", json={}, headers=as_amina).status_code == 409
    cancelled = client.post(f"{base}/{second.id}/cancel", json={"reason": "Malade."}, headers=as_amina)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert _state(engine, second.id).cancelled_by_uri == GROUP
    assert client.post(f"{base}/999999/cancel", json={}, headers=as_amina).status_code == 404


def test_a_coordinator_withdraws_the_groups_offer(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    amina = person(engine, "amina")
    bilal = person(engine, "bilal")
    dora = person(engine, "dora")
    make_group(engine, settings, amina, joining=(bilal,))
    offers = []
    with db.session_scope(engine) as s:
        for _ in range(2):
            row = make_proposal(s, settings, amina, purpose="offer")
            row.author_uri, row.local_author_id = GROUP, None
            offers.append(row)
        mine = make_proposal(s, settings, dora, purpose="offer")
    first, second = (o.id for o in offers)
    with db.session_scope(engine) as s:
        as_amina = {"Authorization": f"Bearer {credentials.create_api_token(amina, 't', session=s)[1]}"}
        as_bilal = {"Authorization": f"Bearer {credentials.create_api_token(bilal, 't', session=s)[1]}"}

    def state(proposal_id: int | None) -> str:
        with Session(engine) as s:
            found = s.get(Proposal, proposal_id)
            assert found is not None
            return found.state

    # A member who does not coordinate, or another person's offer: refused, nothing changed.
    assert client.post(f"/api/v1/groups/coop/offers/{first}/withdraw", headers=as_bilal).status_code == 403
    assert client.post(f"/api/v1/groups/coop/offers/{mine.id}/withdraw", headers=as_amina).status_code == 404
    assert state(first) == "open" and state(mine.id) == "open"
    withdrawn = client.post(f"/api/v1/groups/coop/offers/{first}/withdraw", headers=as_amina)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert client.post(f"/api/v1/groups/coop/offers/{first}/withdraw", headers=as_amina).status_code == 409
    with Session(engine) as s:
        deletes = s.exec(
            select(OutboxActivity).where(
                col(OutboxActivity.actor_uri) == GROUP, col(OutboxActivity.type) == "Delete"
            )
        ).all()
    assert len(deletes) == 1

    # On the work page: the open one has its button; pressing it withdraws it.
    login(client, "amina")
    work = client.get("/groups/coop/work").text
    assert f'action="/groups/coop/offers/{second}/withdraw"' in work
    assert f'action="/groups/coop/offers/{first}/withdraw"' not in work
    done = post_form(client, f"/groups/coop/offers/{second}/withdraw", {}, token_from="/groups/coop/work")
    assert done.status_code == 303 and done.headers["location"] == "/groups/coop/work?done=withdraw"
    assert state(second) == "withdrawn"


def test_a_reload_of_a_forms_address_goes_back_to_its_page(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    amina = person(engine, "amina")
    make_group(engine, settings, amina)
    login(client, "amina")
    for path, page in (
        ("/groups/join", "/me/groups"),
        ("/me/groups/answer", "/me/groups"),
        ("/groups/coop/join", "/groups/coop"),
        ("/groups/coop/leave", "/groups/coop"),
        ("/groups/coop/notices", "/groups/coop"),
        ("/groups/coop/invite", "/groups/coop/members"),
        ("/groups/coop/members/1/accept", "/groups/coop/members"),
        ("/groups/coop/colleges/1/delete", "/groups/coop/members"),
        ("/groups/coop/answer", "/groups/coop/work"),
        ("/groups/coop/bids/1/accept", "/groups/coop/work"),
        ("/groups/coop/offers/1/withdraw", "/groups/coop/work"),
    ):
        reload = client.get(path)
        assert reload.status_code == 303 and reload.headers["location"] == page, path
    # The POST still needs its CSRF token: nothing happens without it.
    assert client.post("/groups/coop/leave", data={"confirm": "1"}).status_code == 403
    with Session(engine) as s:
        founder = records.member_of_user(service.group_named("coop", session=s), amina, session=s)
        assert founder is not None and founder.state == "active"
