"""The Group actor and its ``Announce`` as other software reads them: expanded as JSON-LD by an independent
processor (pyld, offline, the contexts as test data: every term defined, nothing left to ``@vocab``), read
by our own typed reader like Lemmy's community and its announce, and carrying the fields Mastodon and
Lemmy read (checked against the payloads captured from each, under ``tests/data/activitypub``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.activitypub import vocab
from node.activitypub.models import OutboxActivity
from node.activitypub.social.groups import is_group_announce
from node.core import db
from node.groups import actors as group_actors
from node.groups import profile as group_profile
from node.groups import work as group_work
from node.market.proposals import service as proposals
from node.settings import Settings
from tests.support.data import DATA
from tests.support.jsonld import expand
from tests.support.market import person

AS_NS = "https://www.w3.org/ns/activitystreams#"
# What Mastodon reads of an actor to show and follow it (ActivityPub::ProcessAccountService).
MASTODON_READS = (
    "id type preferredUsername name summary url inbox outbox followers following endpoints publicKey "
    "manuallyApprovesFollowers discoverable published"
).split()
# What Lemmy reads of a community (its Group object).
LEMMY_READS = (
    "id type preferredUsername name summary inbox outbox followers attributedTo endpoints publicKey "
    "postingRestrictedToMods published updated"
).split()


def undefined_terms(node: object) -> set[str]:
    """Keys that expanded only through the ActivityStreams context's ``@vocab`` (terms nobody defined)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= undefined_terms(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("_:"):
                found.add(key)
            found |= undefined_terms(value)
    return found


def captured(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / "activitypub" / name).read_text(encoding="utf-8"))
    return document


@pytest.fixture
def published(engine: Engine, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """A SCIC's actor document and the Announce of its first offer."""
    alice = person(engine, "alice")
    with db.session_scope(engine) as s:
        group = group_profile.create_group(
            settings,
            alice,
            group_profile.GroupInput(
                name="coop", display_name="Coop Montreuil", legal_shape="scic", territory="Montreuil"
            ),
            session=s,
        )
        data = proposals.ProposalInput(
            purpose="offer",
            title="Ménage en coopérative",
            category="housework",
            postal_code="93100",
            commune_name="Montreuil",
            quantity="2",
            price="22",
            lifetime_days="30",
        )
        group_work.publish_offer(settings, alice, group, data, session=s)
        actor = group_actors.group_document(settings, group, session=s, create_key=True)
    with Session(engine) as s:
        rows = s.exec(select(OutboxActivity).where(col(OutboxActivity.type) == "Announce")).all()
        announce = json.loads(rows[0].payload)
    return actor, announce


def test_the_group_and_its_announce_as_other_software_reads_them(
    published: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    actor, announce = published
    # An independent JSON-LD processor: every term defined, the group and the announced offer typed.
    [group] = expand(actor)
    assert group["@type"] == [AS_NS + "Group"]
    assert group["@id"] == actor["id"]
    assert group[AS_NS + "attributedTo"] == [{"@id": actor["id"] + "/moderators"}]
    assert group["https://w3id.org/asasap/ns#members"] == [{"@id": actor["id"] + "/members"}]
    assert group["https://join-lemmy.org/ns#moderators"] == [{"@id": actor["id"] + "/moderators"}]
    assert undefined_terms(group) == set()
    [wrapper] = expand(announce)
    assert wrapper["@type"] == [AS_NS + "Announce"]
    [inner] = wrapper[AS_NS + "object"]
    assert inner["@type"] == [AS_NS + "Create"] and inner[AS_NS + "audience"] == [{"@id": actor["id"]}]
    [proposal] = inner[AS_NS + "object"]
    assert proposal["@type"] == ["https://w3id.org/valueflows/ont/vf#Proposal"]
    assert undefined_terms(wrapper) == set()

    # Read as Lemmy's community and its announce are read.
    ours, lemmy = vocab.parse_actor(actor), vocab.parse_actor(captured("lemmy-group.json"))
    assert (ours.type, lemmy.type) == ("Group", "Group")
    assert ours.shared_inbox and lemmy.shared_inbox and ours.public_key and lemmy.public_key
    for document in (announce, captured("lemmy-announce-create-page.json")):
        parsed = vocab.parse_activity(document)
        assert is_group_announce(parsed) and parsed.object_type == "Create"
        assert parsed.object is not None and vocab.parse_activity(parsed.object).type == "Create"

    # The fields Mastodon and Lemmy read, present in what each really sends, and in ours with the same shape.
    for capture, fields in (("mastodon-actor.json", MASTODON_READS), ("lemmy-group.json", LEMMY_READS)):
        theirs = captured(capture)
        for name in fields:
            assert name in theirs, f"{capture} has no {name}: the list of what it reads is wrong"
            assert name in actor, f"our Group lacks {name}"
            assert type(actor[name]) is type(theirs[name]), name
    assert actor["publicKey"].keys() >= {"id", "owner", "publicKeyPem"}
    assert actor["endpoints"]["sharedInbox"].endswith("/inbox")
