"""The conversation pages: write from a proposal, read with unread counts, answer, block, report, and the
coordinators' queue; every form's URL also answers GET."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts.models import Role
from node.conversations import reports
from node.core import db
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import add_remote_actor
from tests.support.market import make_proposal
from tests.support.pages import login, post_form


def test_write_read_answer_block_report_and_moderate(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    make_user(engine, "dora", role=Role.COORDINATOR)
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, alice)
        about = proposal.ap_id
    login(client, "bob")
    detail = client.get(f"/proposals/{about.rsplit('/', 1)[1]}")
    assert "/conversations/new?to=" in detail.text
    new = f"/conversations/new?to={quote('alice@' + settings.domain)}&about={quote(about)}"
    page = client.get(new)
    assert page.status_code == 200 and proposal.title in page.text
    refused = post_form(
        client,
        "/conversations/new",
        {"to": "alice@" + settings.domain, "about": about, "text": "  "},
        token_from=new,
    )
    assert refused.status_code == 422 and "Écrivez un message." in refused.text
    sent = post_form(
        client,
        "/conversations/new",
        {"to": "alice@" + settings.domain, "about": about, "text": "Bonjour, encore libre ?"},
        token_from=new,
    )
    assert sent.status_code == 303, sent.text
    thread = sent.headers["location"]
    assert client.get(thread).status_code == 200

    client.cookies.clear()
    login(client, "alice")
    listing = client.get("/conversations")
    assert "1 non lu" in listing.text and proposal.title in listing.text
    page = client.get(thread)
    assert "Bonjour, encore libre ?" in page.text and "Signaler ce message" in page.text
    assert "1 non lu" not in client.get("/conversations").text
    answer = post_form(client, thread, {"text": "Oui, mardi."})
    assert answer.status_code == 303
    blocked = post_form(
        client, "/blocks", {"actor": settings.url("/users/bob"), "back": thread}, token_from=thread
    )
    assert blocked.status_code == 303 and "Débloquer" in client.get(thread).text
    assert "bob" in client.get("/blocks").text
    target = settings.url("/users/bob")
    report_page = f"/reports/new?target={quote(target)}"
    filed = post_form(
        client,
        "/reports/new",
        {"target": target, "reason": "abuse", "comment": "Insistant"},
        token_from=report_page,
    )
    assert filed.status_code == 200 and "Merci" in filed.text
    assert client.get("/moderation/reports").status_code == 403

    client.cookies.clear()
    login(client, "dora")
    queue = client.get("/moderation/reports")
    assert "Insistant" in queue.text
    action = next(line for line in queue.text.split('"') if line.startswith("/moderation/reports/"))
    decided = post_form(
        client,
        action,
        {"action": "suspend", "target": target, "note": "Harcèlement"},
        token_from="/moderation/reports",
    )
    assert decided.status_code == 303
    assert "Aucun signalement en attente." in client.get("/moderation/reports?done=1").text
    assert bob.username == "bob"


def test_a_warning_to_another_servers_account_is_shown_in_the_log(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    bob = make_user(engine, "bob")
    make_user(engine, "dora", role=Role.COORDINATOR)
    troll = add_remote_actor(engine, "https://elsewhere.example", "troll")
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, author_uri=troll.uri)
        reports.file_report(settings, bob, [proposal.ap_id], "spam", "Arnaque", session=session)
    login(client, "dora")
    queued = client.get("/moderation/reports").text
    action = next(line for line in queued.split('"') if line.startswith("/moderation/reports/"))
    decided = post_form(
        client,
        action,
        {"action": "warn", "target": proposal.ap_id, "note": "Plus d'arnaques, merci"},
        token_from="/moderation/reports",
    )
    assert decided.status_code == 303
    queue = client.get("/moderation/reports?done=1").text
    assert "Dernières décisions" in queue and "Plus d&#39;arnaques, merci" in queue
    assert "Envoyé en message direct à troll@elsewhere.example, depuis le compte du nœud." in queue
