"""Offers and demands on the fediverse: what we publish (deliveries and payloads, the Note for servers
that do not read Proposal) and what the inbox handlers do with what other nodes send, hostile cases
included (each refused without changing anything)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.inbox.context import NeedsFetch, Outcome, PermanentFailure, ProcessingContext
from node.activitypub.models import (
    Delivery,
    DomainBlock,
    InboxActivity,
    OutboxActivity,
    Peer,
    Relay,
    RelayState,
)
from node.activitypub.vocab import VocabError, parse_activity
from node.core.db import session_scope
from node.core.timeutil import isoformat, utcnow
from node.market.models import Notification, Proposal
from node.market.notifications import payload
from node.market.proposals import federation as proposal_federation
from node.market.proposals import notes as proposal_notes
from node.market.proposals import service as proposals
from node.settings import Settings
from node.worker import inbox_dispatcher
from tests.support.accounts import make_user
from tests.support.data import CAPTURED, FEP_0837
from tests.support.delivery import add_follower, add_remote_actor, local_person
from tests.support.market import proposal_document

B = "https://b.example"
MASTO = "https://masto.example"
VECTORS = FEP_0837
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture
def alice(engine: Engine) -> User:
    return make_user(engine, "alice")


def offer_input(**changes: Any) -> proposals.ProposalInput:
    data = proposals.ProposalInput(
        purpose="offer",
        title="Repassage en soirée",
        description="<p>Chemises et draps.</p>",
        category="laundry-delivery",
        postal_code="93100",
        commune_name="Montreuil",
        quantity="2",
        price="18.50",
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def post(engine: Engine, settings: Settings, author: User, **changes: Any) -> Proposal:
    with session_scope(engine) as session:
        return proposals.create(settings, author, offer_input(**changes), session=session)


def set_software(engine: Engine, domain: str, software: str) -> None:
    """What NodeInfo said of ``domain``: ``software``, or nothing usable when empty (asked just now)."""
    with session_scope(engine, write=True) as session:
        session.add(Peer(domain=domain, software=software, nodeinfo_fetched_at=utcnow()))


def deliveries_by_type(engine: Engine) -> dict[str, dict[str, str]]:
    """``{activity type + object type: {target: inbox}}``."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxActivity, Delivery).join(Delivery, col(Delivery.outbox_id) == col(OutboxActivity.id))
        ).all()
    found: dict[str, dict[str, str]] = {}
    for activity, delivery in rows:
        document = json.loads(activity.payload)
        key = f"{document['type']}({document['object'].get('type')})"
        found.setdefault(key, {})[delivery.target] = delivery.inbox_url or ""
    return found


def payloads(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id))).all()
    return [json.loads(r.payload) for r in rows]


# --- publishing ------------------------------------------------------------------------------------------


@pytest.fixture
def audience(settings: Settings, engine: Engine, alice: User) -> LocalActor:
    """Alice's followers: on an ASASAP node, on Mastodon, on a server whose NodeInfo says nothing; a node
    following ours; a relay."""
    actor = local_person(settings, engine, "alice")
    add_follower(engine, actor, add_remote_actor(engine, B, "bob").uri)
    add_follower(engine, actor, add_remote_actor(engine, MASTO, "claire").uri)
    add_follower(engine, actor, add_remote_actor(engine, "https://unknown.example", "dan", shared=False).uri)
    node = local.node_actor(settings)
    add_follower(engine, node, add_remote_actor(engine, "https://c.example", "node", shared=False).uri)
    set_software(engine, "b.example", "asasap")
    set_software(engine, "masto.example", "mastodon")
    set_software(engine, "c.example", "asasap")
    set_software(engine, "unknown.example", "")
    with session_scope(engine, write=True) as session:
        session.add(
            Relay(
                inbox_url="https://relay.example/inbox",
                follow_activity_id=settings.url("/activities/relay"),
                state=RelayState.ACCEPTED.value,
            )
        )
    return actor


def test_proposal_to_readers_of_proposals_note_to_others(
    settings: Settings, engine: Engine, alice: User, audience: LocalActor
) -> None:
    row = post(engine, settings, alice)
    sent = deliveries_by_type(engine)
    assert sent["Create(Proposal)"] == {
        B + "/inbox": B + "/inbox",
        "https://unknown.example/users/dan/inbox": "https://unknown.example/users/dan/inbox",
        "https://c.example/users/node/inbox": "https://c.example/users/node/inbox",
        "https://relay.example/inbox": "https://relay.example/inbox",
    }
    # Mastodon gets the Note instead; an unknown server gets both.
    assert sent["Create(Note)"] == {
        MASTO + "/inbox": MASTO + "/inbox",
        "https://unknown.example/users/dan/inbox": "https://unknown.example/users/dan/inbox",
    }
    create, note_create = payloads(engine)
    assert create["object"]["type"] == "Proposal" and create["object"]["attributedTo"] == audience.uri
    assert (
        "@context" not in create["object"]
        and create["@context"][0] == "https://www.w3.org/ns/activitystreams"
    )
    note = note_create["object"]
    assert note_create["actor"] == audience.uri and note_create["to"] == [PUBLIC]
    assert note["type"] == "Note" and note["id"] == row.ap_id + "/note" and note["url"] == row.ap_id
    assert note["attributedTo"] == audience.uri and note["cc"] == [audience.followers]
    content = note["content"]
    for expected in (
        "Offre",
        "livraison à domicile de linge repassé",
        "Montreuil (93100)",
        "Repassage en soirée",
        "18,50",
    ):
        assert expected in content, expected
    assert f'<a href="{row.ap_id}">' in content and "#" not in content and "<script" not in content
    with Session(engine) as session:
        public = session.exec(select(OutboxActivity.type, OutboxActivity.public)).all()
    assert sorted(public) == [("Create", False), ("Create", True)]  # the Note stays out of the outbox


def test_a_server_whose_software_is_learnt_gets_one_shape(
    settings: Settings, engine: Engine, alice: User, audience: LocalActor
) -> None:
    with session_scope(engine, write=True) as session:
        proposal_notes.record_software("unknown.example", ("misskey", "13.0"), utcnow(), session=session)
    post(engine, settings, alice)
    sent = deliveries_by_type(engine)
    assert "https://unknown.example/users/dan/inbox" not in sent["Create(Proposal)"]
    assert "https://unknown.example/users/dan/inbox" in sent["Create(Note)"]


def test_updates_and_withdrawal_reach_both(
    settings: Settings, engine: Engine, alice: User, audience: LocalActor
) -> None:
    row = post(engine, settings, alice)
    with session_scope(engine) as session:
        fresh = session.get(Proposal, row.id)
        assert fresh is not None
        data = proposals.input_of(fresh)
        data.title = "Repassage le soir"
        proposals.update(settings, alice, fresh, data, session=session)
        proposals.withdraw(settings, alice, fresh, session=session)
    kinds = deliveries_by_type(engine)
    assert set(kinds) == {
        "Create(Proposal)",
        "Create(Note)",
        "Update(Proposal)",
        "Update(Note)",
        "Delete(Tombstone)",
    }
    update_note = [p for p in payloads(engine) if p["type"] == "Update" and p["object"]["type"] == "Note"][0]
    assert "Repassage le soir" in update_note["object"]["content"] and update_note["object"]["updated"]
    deletes = [p["object"] for p in payloads(engine) if p["type"] == "Delete"]
    assert deletes == [
        {"type": "Tombstone", "id": row.ap_id, "formerType": "Proposal"},
        {"type": "Tombstone", "id": row.ap_id + "/note", "formerType": "Note"},
    ]


def test_nodeinfo_says_what_a_server_runs() -> None:
    index = {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "https://m.example/nodeinfo/2.0",
            },
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": "https://m.example/nodeinfo/2.1",
            },
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": "https://evil.example/ni"},
        ]
    }
    assert proposal_notes._nodeinfo_href(index, "https://m.example") == "https://m.example/nodeinfo/2.1"
    assert proposal_notes._nodeinfo_href({"links": "x"}, "https://m.example") is None
    assert proposal_notes.understands_proposals("Mitra") is True
    assert proposal_notes.understands_proposals("mastodon") is False
    assert proposal_notes.understands_proposals("") is None


# --- receiving ---------------------------------------------------------------------------------------------


def proposal_doc(
    actor: str = B + "/users/bob", pid: str = B + "/proposals/1", **changes: Any
) -> dict[str, Any]:
    return proposal_document(actor, pid, **changes)


def activity(kind: str, obj: Any, actor: str = B + "/users/bob", n: int = 1) -> dict[str, Any]:
    return {"id": f"{actor}/activities/{kind.lower()}-{n}", "type": kind, "actor": actor, "object": obj}


@pytest.fixture
def inbox(engine: Engine, settings: Settings) -> Iterator[Any]:
    """``receive(activity, fetched=None)``: process a stored row with the node's dispatcher in one
    transaction and return the outcome (or raise what a handler raised, after rolling back; an
    activity the typed reader refuses, which the inbox would have refused, fails for good)."""

    def receive(data: dict[str, Any], fetched: dict[str, dict[str, Any]] | None = None) -> Outcome:
        with Session(engine, expire_on_commit=False) as session:
            row = InboxActivity(
                activity_id=data["id"],
                actor_uri=data["actor"],
                type=data["type"],
                payload=json.dumps(data),
                key_id=data["actor"] + "#main-key",
            )
            ctx = ProcessingContext(session, settings, row, fetched or {})
            try:
                try:
                    typed = parse_activity(copy.deepcopy(data))
                except VocabError as exc:
                    raise PermanentFailure(str(exc)) from exc
                outcome = inbox_dispatcher().dispatch(ctx, typed)
            except BaseException:
                session.rollback()
                raise
            session.commit()
            return outcome

    yield receive


def stored(engine: Engine) -> list[Proposal]:
    with Session(engine) as session:
        return list(session.exec(select(Proposal).order_by(col(Proposal.id))).all())


def test_a_remote_proposal_is_stored_and_updated(engine: Engine, inbox: Any) -> None:
    assert inbox(activity("Create", proposal_doc())) is Outcome.DONE
    [row] = stored(engine)
    assert (row.origin, row.author_uri, row.local_author_id, row.state) == (
        "b.example",
        B + "/users/bob",
        None,
        "open",
    )
    assert (row.commune_insee, row.commune_name, row.departement) == ("93006", "Bagnolet", "93")
    assert (row.latitude, row.longitude) == (48.87, 2.42)
    assert (row.price_amount, row.price_currency, row.price_basis) == (Decimal("60"), "EUR", "total")
    # what full-text search reads: title, text, commune, the category (FR and EN) and the département
    assert row.search_text.startswith("jardinage a bagnolet tailler la haie bagnolet ")
    assert row.title_terms == "jardinag a bagnolet" and "debroussaillag" in row.search_terms
    assert row.search_text.endswith(" seine saint denis")
    assert json.loads(row.raw or "{}")["id"] == B + "/proposals/1"
    later = isoformat(utcnow())
    changed = proposal_doc(name="Jardinage et haie", updated=later)
    assert inbox(activity("Update", changed, n=2)) is Outcome.DONE
    [row] = stored(engine)
    assert row.title == "Jardinage et haie"
    stale = proposal_doc(name="Ancien titre", updated=isoformat(utcnow() - timedelta(days=1)))
    assert inbox(activity("Update", stale, n=3)) is Outcome.IGNORED
    assert stored(engine)[0].title == "Jardinage et haie"
    closed = proposal_doc(proposalState="closed", updated=isoformat(utcnow()))
    assert inbox(activity("Update", closed, n=4)) is Outcome.DONE
    assert stored(engine)[0].state == "closed"
    reopened = proposal_doc(proposalState="open", updated=isoformat(utcnow()))
    assert inbox(activity("Update", reopened, n=5)) is Outcome.IGNORED
    assert stored(engine)[0].state == "closed"


def test_received_text_is_sanitised(engine: Engine, inbox: Any) -> None:
    hostile = proposal_doc(
        name="<img src=x onerror=alert(1)>Jardin<script>x()</script>",
        content='<p onmouseover="x()">Haie</p><script>steal()</script><iframe src="https://evil.example"></iframe>',
    )
    inbox(activity("Create", hostile))
    [row] = stored(engine)
    assert row.title == "Jardin"
    assert row.description == "<p>Haie</p>"


@pytest.mark.parametrize("name", ["proposal-minimal.json", "proposal-full.json"])
def test_the_fep_examples_are_read(engine: Engine, inbox: Any, name: str) -> None:
    document = json.loads((VECTORS / name).read_text())
    actor = document["attributedTo"]
    assert inbox(activity("Create", document, actor=actor)) is Outcome.DONE
    [row] = stored(engine)
    assert row.ap_id == document["id"] and row.origin == "market.example"
    assert row.title  # the minimal example has no name: a title is made up
    assert row.category is None and row.price_currency is None  # US dollars are not ours


@pytest.mark.parametrize(
    ("signer", "document", "why"),
    [
        # attributedTo forged: Mallory signs a proposal attributed to Bob.
        (B + "/users/mallory", proposal_doc(), "attributedTo"),
        # embedded proposal of another origin than the signer
        (
            "https://evil.example/users/mallory",
            proposal_doc(actor="https://evil.example/users/mallory"),
            "id",
        ),
        # absurd amounts
        (
            B + "/users/bob",
            proposal_doc(
                reciprocal={
                    "type": "Intent",
                    "id": B + "/proposals/1#reciprocal",
                    "action": "transfer",
                    "resourceConformsTo": "https://www.wikidata.org/wiki/Q4916",
                    "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "999999"},
                }
            ),
            "invalid",
        ),
        (B + "/users/bob", proposal_doc(category="massage"), "unreadable"),
        (B + "/users/bob", proposal_doc(purpose="gift"), "unreadable"),
    ],
)
def test_hostile_creations_are_refused(
    engine: Engine, inbox: Any, signer: str, document: dict[str, Any], why: str
) -> None:
    with pytest.raises(PermanentFailure, match=why):
        inbox(activity("Create", document, actor=signer))
    assert stored(engine) == []


def test_only_the_author_updates_or_deletes(engine: Engine, inbox: Any) -> None:
    inbox(activity("Create", proposal_doc()))
    mallory = B + "/users/mallory"
    with pytest.raises(PermanentFailure, match="attributedTo"):
        inbox(activity("Update", proposal_doc(name="Piratage"), actor=mallory))
    with pytest.raises(PermanentFailure, match="not the author"):
        inbox(activity("Update", proposal_doc(actor=mallory, name="Piratage"), actor=mallory))
    with pytest.raises(PermanentFailure, match="another origin"):
        inbox(activity("Update", B + "/proposals/1", actor="https://evil.example/users/mallory"))
    with pytest.raises(PermanentFailure, match="someone else"):
        inbox(activity("Delete", {"type": "Tombstone", "id": B + "/proposals/1"}, actor=mallory))
    [row] = stored(engine)
    assert (row.title, row.state) == ("Jardinage à Bagnolet", "open")
    assert inbox(activity("Delete", {"type": "Tombstone", "id": B + "/proposals/1"}, n=9)) is Outcome.DONE
    assert stored(engine)[0].state == "withdrawn"


def test_our_own_proposals_cannot_be_rewritten(
    engine: Engine, settings: Settings, alice: User, inbox: Any
) -> None:
    row = post(engine, settings, alice)
    forged = proposal_doc(actor=B + "/users/bob", pid=row.ap_id)
    with pytest.raises(PermanentFailure):
        inbox(activity("Update", forged))
    with pytest.raises(PermanentFailure, match="another origin"):
        inbox(activity("Update", row.ap_id))
    with pytest.raises(PermanentFailure):
        inbox(activity("Delete", row.ap_id))
    [same] = stored(engine)
    assert (same.title, same.state, same.author_uri) == (row.title, "open", row.author_uri)


def test_a_deleted_actor_takes_its_open_proposals_along(engine: Engine, inbox: Any) -> None:
    inbox(activity("Create", proposal_doc()))
    inbox(activity("Create", proposal_doc(pid=B + "/proposals/2"), n=2))
    assert inbox(activity("Delete", B + "/users/bob", n=3)) is Outcome.DONE
    assert [r.state for r in stored(engine)] == ["withdrawn", "withdrawn"]


def test_blocked_domains_are_ignored(engine: Engine, inbox: Any) -> None:
    with session_scope(engine, write=True) as session:
        session.add(DomainBlock(domain="b.example"))
    assert inbox(activity("Create", proposal_doc())) is Outcome.IGNORED
    assert stored(engine) == []


def test_a_proposal_given_by_id_is_fetched_from_its_origin(engine: Engine, inbox: Any) -> None:
    pid = B + "/proposals/1"
    with pytest.raises(NeedsFetch) as need:
        inbox(activity("Create", pid))
    assert need.value.uri == pid and not need.value.actor
    assert inbox(activity("Create", pid), fetched={pid: proposal_doc()}) is Outcome.DONE
    assert len(stored(engine)) == 1


def test_announces_from_relays_and_followed_actors(engine: Engine, settings: Settings, inbox: Any) -> None:
    relay = "https://relay.example/actor"
    pid = B + "/proposals/1"
    assert inbox(activity("Announce", pid, actor=relay)) is Outcome.IGNORED  # not a relay of ours
    with session_scope(engine, write=True) as session:
        session.add(
            Relay(
                inbox_url="https://relay.example/inbox",
                actor_uri=relay,
                follow_activity_id=settings.url("/activities/r"),
                state=RelayState.ACCEPTED.value,
            )
        )
    with pytest.raises(NeedsFetch):
        inbox(activity("Announce", pid, actor=relay, n=2))
    assert inbox(activity("Announce", pid, actor=relay, n=2), fetched={pid: proposal_doc()}) is Outcome.DONE
    [row] = stored(engine)
    assert row.author_uri == B + "/users/bob"
    # An announced document whose author is of another origin than its id is refused.
    forged = proposal_doc(actor="https://evil.example/users/x", pid=B + "/proposals/3")
    with pytest.raises(PermanentFailure):
        inbox(
            activity("Announce", B + "/proposals/3", actor=relay, n=3), fetched={B + "/proposals/3": forged}
        )
    set_software(engine, "masto.example", "mastodon")
    assert inbox(activity("Announce", MASTO + "/statuses/1", actor=relay, n=4)) is Outcome.IGNORED


def test_a_reply_from_mastodon_reaches_the_author(
    engine: Engine, settings: Settings, alice: User, inbox: Any
) -> None:
    row = post(engine, settings, alice)
    claire = add_remote_actor(engine, MASTO, "claire")
    captured = json.loads(
        (CAPTURED / "mastodon-create-note.json").read_text().replace("mastodon.example", "masto.example")
    )
    captured["object"]["inReplyTo"] = row.ap_id + "/note"
    captured["object"]["content"] = "<p>Je suis disponible <script>x()</script>mardi.</p>"
    assert inbox(captured) is Outcome.DONE
    with Session(engine) as session:
        [note] = session.exec(select(Notification)).all()
    assert (note.user_id, note.kind, note.object_uri, note.actor_uri) == (
        alice.id,
        "reply",
        row.ap_id,
        claire.uri,
    )
    data = payload(note)
    assert data["handle"] == "claire@masto.example"
    assert data["text"] == "Je suis disponible mardi."
    assert data["title"] == "Repassage en soirée"
    # A reply to something else, or a reply attributed to someone else, does nothing.
    elsewhere = copy.deepcopy(captured)
    elsewhere["id"] += "-2"
    elsewhere["object"]["inReplyTo"] = MASTO + "/statuses/9"
    assert inbox(elsewhere) is Outcome.IGNORED
    forged = copy.deepcopy(captured)
    forged["id"] += "-3"
    forged["object"]["attributedTo"] = MASTO + "/users/other"
    with pytest.raises(PermanentFailure):
        inbox(forged)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Notification)).one() == 1


def test_store_remote_checks_the_signer(engine: Engine, settings: Settings) -> None:
    from node.market.vocab import proposal_from_json

    doc = proposal_from_json(proposal_doc())
    with Session(engine) as session:
        with pytest.raises(PermanentFailure):
            proposal_federation.store_remote(settings, doc, signer=B + "/users/eve", session=session)
        assert (
            proposal_federation.store_remote(settings, doc, signer=B + "/users/bob", session=session)
            is Outcome.DONE
        )
