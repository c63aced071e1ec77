"""Conversations and reports across servers: two nodes in one process (real inbox job and handlers), and
the payloads of Mastodon, Misskey, GoToSocial, Pleroma, Mitra and Mbin (``tests/data/activitypub``)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, col, select

from node.accounts import blocks
from node.accounts.models import Role, User
from node.activitypub.models import RemoteActor
from node.conversations import messages, reports
from node.conversations.models import Message, Report
from node.core.errors import ValidationFailed
from node.market.models import Proposal
from tests.support.accounts import make_user
from tests.support.conversations import on, payload, receive, texts
from tests.support.federation import Federation, Node, federation  # noqa: F401
from tests.support.market import make_proposal


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mastodon-direct-note.json", "votre offre de repassage est-elle encore valable samedi ?"),
        ("misskey-mention-note.json", "Je peux aider pour le jardin mardi."),
        ("gotosocial-direct-note.json", "Combien pour deux heures de ménage ?"),
        ("pleroma-direct-note.json", "Est-ce que vous faites les courses le jeudi ?"),
        ("mitra-direct-note.json", "je peux payer autrement ?"),
    ],
)
def test_direct_messages_and_mentions_from_other_servers_become_conversations(
    federation: Federation,  # noqa: F811
    name: str,
    expected: str,
) -> None:
    a = federation.nodes[0]
    make_user(a.engine, "alice")
    activity = payload(name)
    row = receive(federation, a, activity)
    assert (row.state, row.kind) == ("done", "message"), row.error
    (text,) = texts(a, "alice")
    assert expected in text and "<" not in text and "alert" not in text
    stored = on(a, lambda s: s.exec(select(Message)).one())
    assert expected not in stored.sealed_text  # sealed at rest
    assert stored.author_uri == activity["actor"]
    unread = on(a, lambda s: messages.unread_total(s.exec(select(User)).one().pk, session=s))
    assert unread == 0  # read just above


def test_a_message_from_someone_blocked_is_dropped(federation: Federation) -> None:  # noqa: F811
    a = federation.nodes[0]
    alice = make_user(a.engine, "alice")
    activity = payload("mastodon-direct-note.json")
    on(a, lambda s: blocks.block(alice.pk, a.uri("alice"), activity["actor"], session=s))
    row = receive(federation, a, activity)
    assert row.state == "ignored"
    assert on(a, lambda s: s.exec(select(Message)).all()) == []


def test_a_note_attributed_to_someone_else_is_refused(federation: Federation) -> None:  # noqa: F811
    a = federation.nodes[0]
    make_user(a.engine, "alice")
    activity = payload("pleroma-direct-note.json")
    activity["object"]["attributedTo"] = "https://pleroma.example/users/someone-else"
    assert receive(federation, a, activity).state == "failed"
    assert on(a, lambda s: s.exec(select(Message)).all()) == []


def test_a_conversation_across_two_nodes(federation: Federation) -> None:  # noqa: F811
    """Alice (A) writes to Bob (B) about a demand; Bob answers in the same thread; both see it."""
    a, b = federation.nodes
    alice, bob = make_user(a.engine, "alice"), make_user(b.engine, "bob")
    demand = a.settings.url("/proposals/0c8f6a1e-1111-4111-8111-111111111111")

    def write(session: Session) -> str:
        conversation, _ = messages.start(
            a.settings,
            alice,
            [b.uri("bob")],
            "Bonjour Bob, êtes-vous libre mardi ?",
            subject_uri=demand,
            session=session,
        )
        return conversation.uri

    context = on(a, write)
    (note,) = [json.loads(o.payload) for o in federation.outbox(a) if o.type == "Create"]
    assert note["to"] == [b.uri("bob")] and note["object"]["to"] == [b.uri("bob")]
    assert "https://www.w3.org/ns/activitystreams#Public" not in json.dumps(note)
    assert note["object"]["context"] == context and note["object"]["about"] == demand
    assert note["object"]["tag"][0]["href"] == b.uri("bob")
    federation.settle()
    assert on(b, lambda s: messages.unread_total(bob.pk, session=s)) == 1
    assert texts(b, "bob") == ["Bonjour Bob, êtes-vous libre mardi ?"]

    def answer(session: Session) -> None:
        (summary,) = messages.conversations_of(bob.pk, session=session)
        assert summary.unread == 0 and summary.conversation.subject_uri == demand
        assert summary.conversation.id is not None
        messages.reply(b.settings, bob, summary.conversation.id, "Oui, à partir de 14 h.", session=session)

    on(b, answer)
    federation.settle()
    assert texts(a, "alice") == ["Bonjour Bob, êtes-vous libre mardi ?", "Oui, à partir de 14 h."]
    reply = [json.loads(o.payload) for o in federation.outbox(b) if o.type == "Create"][-1]
    first = on(a, lambda s: s.exec(select(Message).order_by(col(Message.id))).first())
    assert first is not None and reply["object"]["inReplyTo"] == first.uri
    assert reply["object"]["context"] == context


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mastodon-flag.json", 3),
        ("gotosocial-flag.json", 2),
        ("mbin-flag.json", 2),  # the object of another server is dropped
    ],
)
def test_flags_listing_several_objects_land_in_the_queue(
    federation: Federation,  # noqa: F811
    name: str,
    expected: int,
) -> None:
    a = federation.nodes[0]
    make_user(a.engine, "alice")
    make_user(a.engine, "carla", role=Role.COORDINATOR)
    activity = payload(name)
    row = receive(federation, a, activity)
    assert (row.state, row.kind) == ("done", "report"), row.error
    report = on(a, lambda s: s.exec(select(Report)).one())
    targets = reports.targets_of(report)
    assert len(targets) == expected and all(t.startswith("https://montreuil.example/") for t in targets)
    assert report.origin == activity["actor"].split("/")[2] and report.reporter_user_id is None
    assert report.comment
    # The same Flag again (say, relayed under the same id): one report still.
    again = on(
        a,
        lambda s: reports.receive_flag(a.settings, activity["id"], activity["actor"], targets, "", session=s),
    )
    assert again is None and len(on(a, lambda s: s.exec(select(Report)).all())) == 1


def test_a_flag_naming_nothing_of_ours_is_ignored(federation: Federation) -> None:  # noqa: F811
    a = federation.nodes[0]
    activity = payload("mastodon-flag.json")
    activity["object"] = ["https://elsewhere.example/users/x", "https://elsewhere.example/statuses/1"]
    assert receive(federation, a, activity).state == "ignored"
    assert on(a, lambda s: s.exec(select(Report)).all()) == []


def test_a_report_forwarded_reaches_the_other_node_as_a_flag(federation: Federation) -> None:  # noqa: F811
    """Carol (B) reports a proposal of Alice (A), asking that it be forwarded; A's coordinator hides it."""
    a, b = federation.nodes
    alice = make_user(a.engine, "alice")
    coordinator = make_user(a.engine, "dora", role=Role.COORDINATOR)
    carol = make_user(b.engine, "carol")
    proposal = a.settings.url("/proposals/0c8f6a1e-2222-4222-8222-222222222222")
    on(a, lambda s: make_proposal(s, a.settings, alice, ap_id=proposal))
    # Carol saw Alice's profile: B has Alice's actor cached.
    on(
        b,
        lambda s: s.add(
            RemoteActor(uri=a.uri("alice"), domain="montreuil.example", inbox=a.uri("alice") + "/inbox")
        ),
    )
    on(
        b,
        lambda s: reports.file_report(
            b.settings, carol, [a.uri("alice"), proposal], "abuse", "Faux profil", forward=True, session=s
        ),
    )
    (flag,) = [json.loads(o.payload) for o in federation.outbox(b) if o.type == "Flag"]
    assert flag["actor"] == b.settings.url("/actor") and carol.username not in json.dumps(flag)
    assert flag["object"] == [a.uri("alice"), proposal] and flag["to"] == [a.uri("alice")]
    federation.settle()
    report = on(a, lambda s: s.exec(select(Report)).one())
    assert reports.targets_of(report) == [a.uri("alice"), proposal] and report.comment == "Faux profil"
    report_id = report.id
    assert report_id is not None
    decision = on(
        a, lambda s: reports.decide(a.settings, coordinator, report_id, "hide", proposal, "Faux", session=s)
    )
    assert (decision.action, decision.target_uri, decision.note) == ("hide", proposal, "Faux")
    assert on(a, lambda s: s.exec(select(Report.state)).one()) == "actioned"
    assert on(a, lambda s: s.exec(select(Proposal.state)).one()) == "withdrawn"
    # Withdrawn here, and the fediverse told (Delete of the proposal).
    assert [o.type for o in federation.outbox(a)][-1] == "Delete"
    with pytest.raises(ValidationFailed):  # a person cannot be hidden
        on(a, lambda s: reports.decide(a.settings, coordinator, report_id, "hide", a.uri("alice"), session=s))
