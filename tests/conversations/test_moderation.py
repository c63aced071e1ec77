"""Moderation beyond hiding and suspending (issue 14): an evaluation reported then hidden, a warning that
reaches the account by notification and e-mail, a limited account whose proposals leave the listings and
whose messages reach only its followers; an account of another server limited, then blocked, from the
queue."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from node.accounts.models import Role, User
from node.activitypub import moderation
from node.activitypub.actors import local
from node.activitypub.models import Delivery, Follow, FollowState, OutboxActivity
from node.conversations import messages, reports
from node.conversations.models import Decision
from node.core import db
from node.core.errors import PermissionDenied, ValidationFailed
from node.core.mail import MailJob
from node.core.timeutil import utcnow
from node.market.evaluations import service as evaluations
from node.market.models import Notification
from node.market.proposals import records
from node.settings import Settings
from tests.support import jsonld
from tests.support.accounts import make_user
from tests.support.delivery import add_remote_actor
from tests.support.evaluations import completed_pair, standings_agree, submit
from tests.support.market import make_proposal
from tests.support.smtp import mail_server

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS = "https://www.w3.org/ns/activitystreams#"


def uri(settings: Settings, user: User) -> str:
    return local.person(settings, user).uri


def decide(
    settings: Settings, engine: Engine, moderator: User, report_id: int, action: str, target: str
) -> None:
    with db.session_scope(engine) as session:
        reports.decide(settings, moderator, report_id, action, target, "Propos insultants", session=session)


def report(settings: Settings, engine: Engine, reporter: User, target: str) -> int:
    with db.session_scope(engine) as session:
        row = reports.file_report(settings, reporter, [target], "abuse", session=session)
        assert row.id is not None
        return row.id


def test_a_reported_evaluation_is_hidden_from_the_reputation(settings: Settings, engine: Engine) -> None:
    alice, bob, agreement = completed_pair(engine, settings)
    moderator = make_user(engine, "modo", Role.COORDINATOR)
    submit(engine, settings, alice, agreement, 1, comment="Nul, voleur")
    submit(engine, settings, bob, agreement, 5)
    with db.session_scope(engine) as session:
        evaluations.reveal_due_evaluations(settings, utcnow() + timedelta(days=30), session=session)
        unfair = evaluations.evaluation_by(agreement.ap_id, uri(settings, alice), session=session)
        assert unfair is not None and unfair.state == "published"
        assert evaluations.count_published_of(uri(settings, bob), session=session) == 1
    assert standings_agree(engine) == {uri(settings, bob): (1, 100), uri(settings, alice): (1, 500)}
    report_id = report(settings, engine, bob, unfair.ap_id)
    decide(settings, engine, moderator, report_id, "hide", unfair.ap_id)
    assert standings_agree(engine) == {uri(settings, alice): (1, 500)}
    with db.session_scope(engine) as session:
        assert evaluations.count_published_of(uri(settings, bob), session=session) == 0
        assert evaluations.published_here(unfair.ap_id, session=session) is None
        assert evaluations.reputation_of(uri(settings, bob), session=session).count == 0


def test_a_warning_reaches_the_account_by_notification_and_e_mail(settings: Settings, engine: Engine) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    moderator = make_user(engine, "modo", Role.COORDINATOR)
    with db.session_scope(engine) as session:
        row = session.get(User, alice.pk)
        assert row is not None
        row.email = "alice@example.org"
        session.add(row)
    with mail_server() as server:
        mailing = server.settings_for(settings)
        with db.session_scope(engine) as session:
            _, message = messages.start(mailing, alice, [uri(mailing, bob)], "Tu es nul", session=session)
        report_id = report(mailing, engine, bob, message.uri)
        decide(mailing, engine, moderator, report_id, "warn", message.uri)
        asyncio.run(MailJob(mailing, engine).run_once())
    [warning] = server.received
    assert warning["To"] == "alice@example.org" and "Propos insultants" in warning.get_content()
    with db.session_scope(engine) as session:
        kinds = session.exec(select(Notification.kind).where(Notification.user_id == alice.pk)).all()
        assert "moderation_warning" in kinds
        assert reports.decisions(report_id, session=session)[0].action == "warn"


def test_a_remote_account_is_warned_by_a_direct_message(settings: Settings, engine: Engine) -> None:
    bob = make_user(engine, "bob")
    moderator = make_user(engine, "modo", Role.COORDINATOR)
    troll = add_remote_actor(engine, "https://elsewhere.example", "troll")
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, author_uri=troll.uri)
    report_id = report(settings, engine, bob, proposal.ap_id)
    decide(settings, engine, moderator, report_id, "warn", proposal.ap_id)
    with db.session_scope(engine) as session:
        [(outbox, delivery)] = session.exec(
            select(OutboxActivity, Delivery).join(Delivery, col(Delivery.outbox_id) == col(OutboxActivity.id))
        ).all()
        [logged] = reports.decisions(report_id, session=session)
        shown = reports.recent_decisions(moderator, session=session)
    assert delivery.inbox_url == "https://elsewhere.example/inbox"  # its server's shared inbox
    sent = json.loads(outbox.payload)
    node_actor = local.node_actor(settings).uri
    assert sent["type"] == "Create" and sent["actor"] == node_actor and sent["to"] == [troll.uri]
    note = sent["object"]
    assert note["type"] == "Note" and note["attributedTo"] == node_actor
    assert note["to"] == [troll.uri] and note["cc"] == [] and not sent.get("cc")
    assert note["tag"] == [{"type": "Mention", "href": troll.uri, "name": "@troll@elsewhere.example"}]
    assert "Propos insultants" in note["content"] and proposal.ap_id in note["content"]
    assert PUBLIC not in json.dumps(sent) and "modo" not in json.dumps(sent)  # never public, no moderator
    assert (logged.action, logged.target_uri, logged.note, logged.sent_to) == (
        "warn",
        proposal.ap_id,
        "Propos insultants",
        troll.uri,
    )
    assert [d.id for d in shown] == [logged.id]
    # A strict JSON-LD reader gets IRIs for what names someone or something.
    expanded = jsonld.expand(sent)
    for predicate in (AS + "to", AS + "attributedTo", "http://schema.org/about", AS + "href"):
        values = jsonld.values_of(expanded, predicate)
        assert values and all(isinstance(v, dict) and "@id" in v for v in values), (predicate, values)


def test_only_an_account_can_be_warned(settings: Settings, engine: Engine) -> None:
    bob = make_user(engine, "bob")
    moderator = make_user(engine, "modo", Role.COORDINATOR)
    unknown = "https://elsewhere.example/notes/1"  # nothing this node holds: no account answers for it
    report_id = report(settings, engine, bob, unknown)
    with pytest.raises(ValidationFailed):
        decide(settings, engine, moderator, report_id, "warn", unknown)
    with db.session_scope(engine) as session:
        assert session.exec(select(OutboxActivity)).all() == []
        assert reports.decisions(report_id, session=session) == []


def test_a_limited_account_leaves_listings_and_reaches_only_its_followers(
    settings: Settings, engine: Engine
) -> None:
    carol, bob, dan = make_user(engine, "carol"), make_user(engine, "bob"), make_user(engine, "dan")
    moderator = make_user(engine, "modo", Role.COORDINATOR)
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, carol)
        session.add(
            Follow(
                follower_uri=uri(settings, dan),
                followee_uri=uri(settings, carol),
                activity_id=settings.url(f"/follows/{uuid.uuid4()}"),
                state=FollowState.ACCEPTED.value,
                local_follower_id=dan.pk,
                local_followee_id=carol.pk,
            )
        )
    report_id = report(settings, engine, bob, proposal.ap_id)
    decide(settings, engine, moderator, report_id, "limit", proposal.ap_id)
    with db.session_scope(engine) as session:
        assert moderation.is_limited(uri(settings, carol), session=session)
        listed = records.search(records.ProposalFilters(), session=session, now=utcnow())
        assert proposal.ap_id not in [p.ap_id for p in listed.items]
    with db.session_scope(engine) as session:  # bob does not follow carol: refused
        try:
            messages.start(settings, carol, [uri(settings, bob)], "Bonjour", session=session)
        except PermissionDenied:
            pass
        else:
            raise AssertionError("a limited account wrote to someone who does not follow it")
    with db.session_scope(engine) as session:  # dan follows carol: delivered
        messages.start(settings, carol, [uri(settings, dan)], "Bonjour Dan", session=session)
    note = {
        "id": "https://elsewhere.example/notes/1",
        "type": "Note",
        "content": "<p>Achetez !</p>",
        "to": [uri(settings, bob)],
    }
    remote = "https://elsewhere.example/users/spammer"
    with db.session_scope(engine) as session:
        moderation.limit_account(remote, session=session)
        stored = messages.receive(settings, note, remote, [bob], session=session, received=utcnow())
        assert stored is None  # bob does not follow the limited remote account


def test_an_account_of_another_server_is_limited_then_blocked_from_the_queue(
    settings: Settings, engine: Engine
) -> None:
    bob, moderator = make_user(engine, "bob"), make_user(engine, "modo", Role.COORDINATOR)
    spammer = "https://elsewhere.example/users/spammer"
    with db.session_scope(engine) as session:
        listed = make_proposal(session, settings, author_uri=spammer, purpose="offer")
        session.add(
            Follow(
                follower_uri=uri(settings, bob),
                followee_uri=spammer,
                activity_id=settings.url(f"/follows/{uuid.uuid4()}"),
                state=FollowState.ACCEPTED.value,
                local_follower_id=bob.pk,
            )
        )
    report_id = report(settings, engine, bob, listed.ap_id)
    decide(settings, engine, moderator, report_id, "limit", listed.ap_id)
    with db.session_scope(engine) as session:
        assert moderation.is_limited(spammer, session=session)
        found = records.search(records.ProposalFilters(), session=session, now=utcnow())
        assert listed.ap_id not in [p.ap_id for p in found.items]

    report_id = report(settings, engine, bob, listed.ap_id)
    decide(settings, engine, moderator, report_id, "block", listed.ap_id)
    with db.session_scope(engine) as session:
        assert moderation.is_account_blocked(spammer, session=session)
        assert not moderation.is_account_blocked(uri(settings, bob), session=session)
        assert session.exec(select(Follow)).all() == []  # bob no longer follows it
        row = records.get_by_ap_id(listed.ap_id, session=session)
        assert row is not None and row.state == "withdrawn"
        logged = session.exec(select(Decision).order_by(col(Decision.id))).all()
        assert [(d.action, d.target_uri, d.moderator_id) for d in logged] == [
            ("limit", listed.ap_id, moderator.pk),
            ("block", listed.ap_id, moderator.pk),
        ]


def test_only_another_servers_account_can_be_blocked(settings: Settings, engine: Engine) -> None:
    carol, bob = make_user(engine, "carol"), make_user(engine, "bob")
    moderator = make_user(engine, "modo", Role.COORDINATOR)
    with db.session_scope(engine) as session:
        proposal = make_proposal(session, settings, carol)
    report_id = report(settings, engine, bob, proposal.ap_id)
    try:
        decide(settings, engine, moderator, report_id, "block", proposal.ap_id)
    except ValidationFailed:
        pass
    else:
        raise AssertionError("a local account was blocked as a remote one")
    with db.session_scope(engine) as session:
        assert moderation.blocked_accounts(session=session) == []
        assert session.exec(select(Decision)).all() == []
