"""Payloads captured from real servers (``tests/data/activitypub/captured``, sources in its README):
a direct message from Mastodon, mentions from Misskey, Pleroma and GoToSocial, a GoToSocial report, a
Mitra like and a Mitra public note, through the inbox handlers of a real node.

Each document is kept byte for byte as its server sent it; the only change, made here and nowhere else,
is :func:`retarget`: the account or object it was addressed to on its first server becomes one of ours
(every string equal to or containing that id), so that our node is the one it concerns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from node.accounts.models import Role
from node.conversations import reports
from node.conversations.models import Conversation, Message, Report
from node.market.models import Proposal
from node.market.proposals import reactions
from tests.support.accounts import make_user
from tests.support.conversations import on, receive, texts
from tests.support.data import CAPTURED
from tests.support.federation import Federation, federation  # noqa: F401
from tests.support.market import make_proposal

FOUND = CAPTURED / "captured"


def captured(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FOUND / name).read_text(encoding="utf-8"))
    return document


def retarget(document: Any, replacements: dict[str, str]) -> Any:
    """``document`` with every string in which an old id appears rewritten to name the new one."""
    if isinstance(document, dict):
        return {key: retarget(value, replacements) for key, value in document.items()}
    if isinstance(document, list):
        return [retarget(value, replacements) for value in document]
    if isinstance(document, str):
        for old, new in replacements.items():
            document = document.replace(old, new)
    return document


def wrapped_in_create(note: dict[str, Any]) -> dict[str, Any]:
    """A GoToSocial status as GoToSocial sends it: wrapped in a ``Create`` whose id is the status's with
    ``/activity#Create``, the author as actor, the same addressing and date (``WrapStatusableInCreate``)."""
    return {
        "@context": note["@context"],
        "actor": note["attributedTo"],
        "cc": note["cc"],
        "id": note["id"] + "/activity#Create",
        "object": {key: value for key, value in note.items() if key != "@context"},
        "published": note["published"],
        "to": note["to"],
        "type": "Create",
    }


@pytest.mark.parametrize(
    ("name", "recipient", "expected"),
    [
        # A direct message: addressed to the one person only, nothing public.
        (
            "mastodon-create-direct.json",
            "https://ds9.lemmy.ml/u/banme",
            "osefioespjdfksasdwasdkflasewasdsdfsdfsdfsd",
        ),
        # Public notes that mention the person (in ``to`` for Pleroma, in ``cc`` for Misskey).
        ("pleroma-create-mention.json", "https://enterprise.lemmy.ml/u/picard", "test"),
        (
            "misskey-create-mention.json",
            "https://calckey.jp/users/9bu1xzwjyb",
            "いやそういうことじゃなくて",
        ),
        (
            "gotosocial-note-mention.json",
            "http://localhost:8080/users/the_mighty_zork",
            "welcome to the instance!",
        ),
    ],
)
def test_messages_and_mentions_captured_from_real_servers_become_conversations(
    federation: Federation,  # noqa: F811
    name: str,
    recipient: str,
    expected: str,
) -> None:
    a = federation.nodes[0]
    make_user(a.engine, "alice")
    document = captured(name)
    if document["type"] == "Note":
        document = wrapped_in_create(document)
    activity = retarget(document, {recipient: a.uri("alice")})
    row = receive(federation, a, activity)
    assert (row.state, row.kind) == ("done", "message"), row.error
    (text,) = texts(a, "alice")
    assert expected in text and "<" not in text
    stored = on(a, lambda s: s.exec(select(Message)).one())
    assert stored.author_uri == activity["actor"] and stored.uri == activity["object"]["id"]
    assert expected not in stored.sealed_text  # sealed at rest
    # The same note again under another activity id (as a relay or a second inbox would): still one.
    receive(federation, a, {**activity, "id": activity["id"] + "#again"})
    assert len(on(a, lambda s: s.exec(select(Message)).all())) == 1


def test_a_public_note_mentioning_no_one_here_is_not_a_conversation(federation: Federation) -> None:  # noqa: F811
    a = federation.nodes[0]
    make_user(a.engine, "alice")
    row = receive(federation, a, wrapped_in_create(captured("mitra-note.json") | {"cc": [], "@context": []}))
    assert row.state == "ignored", row.error
    assert on(a, lambda s: s.exec(select(Conversation)).all()) == []


def test_a_report_by_gotosocial_lands_in_the_queue(federation: Federation) -> None:  # noqa: F811
    a = federation.nodes[0]
    alice = make_user(a.engine, "alice")
    make_user(a.engine, "carla", role=Role.COORDINATOR)

    def publish(session: Any) -> str:
        proposal: Proposal = make_proposal(session, a.settings, alice)
        return proposal.ap_id

    proposal_uri = on(a, publish)
    flag = retarget(
        captured("gotosocial-flag.json"),
        {
            "http://fossbros-anonymous.io/users/foss_satan/statuses/01FVW7JHQFSFK166WWKR8CBA6M": proposal_uri,
            "http://fossbros-anonymous.io/users/foss_satan": a.uri("alice"),
        },
    )
    row = receive(federation, a, flag)
    assert (row.state, row.kind) == ("done", "report"), row.error
    report = on(a, lambda s: s.exec(select(Report)).one())
    assert reports.targets_of(report) == [a.uri("alice"), proposal_uri]
    assert report.origin == "localhost:8080" and report.comment == "dark souls sucks, please yeet this nerd"


def test_a_like_from_mitra_is_counted(federation: Federation) -> None:  # noqa: F811
    a = federation.nodes[0]
    alice = make_user(a.engine, "alice")

    def publish(session: Any) -> tuple[int, str]:
        proposal: Proposal = make_proposal(session, a.settings, alice)
        return proposal.id or 0, proposal.ap_id

    pid, proposal_uri = on(a, publish)
    like = retarget(
        captured("mitra-like.json"),
        {"https://hub.somaton.com/item/7bb5da01-f97b-408f-853a-eb4d09079e5a": proposal_uri},
    )
    row = receive(federation, a, like)
    assert row.state == "done", row.error
    assert on(a, lambda s: reactions.counts(pid, session=s))["like"] == 1
