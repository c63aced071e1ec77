"""Evaluations received from other nodes: checked against the agreement as its origin serves it,
stored hidden on the evaluated party's node until both are in, stored published elsewhere, and
refused (nothing stored) when forged, from a non-party, for an agreement not completed or denied."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors.remote import RemoteActors
from node.activitypub.addressing import PUBLIC
from node.activitypub.inbox.context import NeedsFetch, Outcome, PermanentFailure, ProcessingContext
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.models import InboxActivity, InboxState, OutboxActivity
from node.activitypub.vocab import parse_activity
from node.core import db
from node.core.timeutil import utcnow
from node.market import federation as market_federation
from node.market import vocab
from node.market.agreements import documents as agreement_documents
from node.market.evaluations import federation as evaluations_federation
from node.market.evaluations import service as evaluations
from node.market.evaluations.reputation import Role
from node.market.models import Agreement, Notification
from node.settings import Settings
from node.worker import inbox_dispatcher
from tests.support.accounts import make_user
from tests.support.actors import ActorServer
from tests.support.evaluations import make_agreement, standings_agree, stored, submit, uri

A = "https://montreuil.example"
ALICE = A + "/users/alice"
AGREEMENT = A + "/agreements/9f3a"


def review_activity(
    *,
    evaluator: str = ALICE,
    evaluated: str,
    agreement: str = AGREEMENT,
    role: Role = "provider",
    public: bool = False,
    signer: str | None = None,
    review_id: str | None = None,
    overall: int = 5,
    comment: str = "Ponctuel et très aimable.",
) -> dict[str, Any]:
    """``Create(Review)`` as the evaluator's node sends it (hidden, or published when ``public``)."""
    origin = evaluator.split("/users/")[0]
    to = (PUBLIC,) if public else (evaluated,)
    cc = (evaluator + "/followers", evaluated) if public else ()
    criteria = {"punctuality": 5, "quality": 4} if role == "provider" else {"clarity": 3}
    review = vocab.evaluation_to_json(
        vocab.EvaluationDoc(
            id=review_id or f"{origin}/evaluations/{uuid.uuid4()}",
            attributed_to=evaluator,
            agreement=agreement,
            evaluated=evaluated,
            role=role,
            overall=overall,
            criteria=criteria,
            comment=comment,
            published=utcnow() - timedelta(hours=1),
            to=to,
            cc=cc,
        )
    )
    return vocab.activity_to_json(
        "Create", signer or evaluator, review, activity_id=f"{origin}/activities/{uuid.uuid4()}", to=to, cc=cc
    )


def agreement_doc(
    *, provider: str, requester: str, state: str = "completed", ap_id: str = AGREEMENT
) -> dict[str, Any]:
    """The public part of an agreement, as its holder serves it to a node that is not a party's."""
    row = Agreement(
        ap_id=ap_id,
        proposal_ap_id=ap_id.replace("/agreements/", "/proposals/"),
        provider_uri=provider,
        requester_uri=requester,
        state=state,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    return agreement_documents.agreement_document(row, author_uri=requester, full=False)


def handle(
    engine: Engine,
    settings: Settings,
    activity: dict[str, Any],
    fetched: dict[str, dict[str, Any]] | None = None,
) -> Outcome:
    """Process ``activity`` in one transaction with the node's dispatcher, as the inbox job does."""
    with db.session_scope(engine) as session:
        row = InboxActivity(
            activity_id=activity["id"],
            actor_uri=activity["actor"],
            type=activity["type"],
            payload=json.dumps(activity),
            key_id=activity["actor"] + "#main-key",
        )
        ctx = ProcessingContext(session, settings, row, fetched or {})
        return inbox_dispatcher().dispatch(ctx, parse_activity(activity))


@pytest.fixture
def bob(engine: Engine) -> User:
    return make_user(engine, "bob")


@pytest.fixture
def mirror(engine: Engine, settings: Settings, bob: User) -> Agreement:
    """Bob (here) delivered what Alice (montreuil.example) asked for; her node holds the agreement."""
    return make_agreement(
        engine, settings, provider=uri(settings, bob), requester=ALICE, provider_id=bob.id, ap_id=AGREEMENT
    )


def test_hidden_evaluation_kept_hidden_on_the_party_node_until_both_are_in(
    engine: Engine, settings: Settings, bob: User, mirror: Agreement
) -> None:
    bob_uri = uri(settings, bob)
    activity = review_activity(evaluated=bob_uri)
    with pytest.raises(NeedsFetch) as need:
        handle(engine, settings, activity)
    assert need.value.uri == AGREEMENT and stored(engine) == []  # fetched from its origin first

    served = agreement_doc(provider=bob_uri, requester=ALICE)
    assert handle(engine, settings, activity, {AGREEMENT: served}) is Outcome.DONE
    [received] = stored(engine)
    assert (received.state, received.origin, received.agreement_id) == (
        "submitted",
        "montreuil.example",
        mirror.id,
    )
    assert received.comment == "Ponctuel et très aimable."
    with Session(engine) as session:
        assert evaluations.visible_to(mirror, bob_uri, session=session) == []
        assert evaluations.reputation_of(bob_uri, session=session).count == 0
        notes = session.exec(select(Notification.kind).where(Notification.user_id == bob.id)).all()
    assert notes == ["evaluation_received"]

    # Bob evaluates Alice: both are in, both are revealed; Bob's goes out to the public audience.
    mine = submit(engine, settings, bob, mirror, 4, criteria={"payment": 5})
    assert {e.state for e in stored(engine)} == {"published"}
    with Session(engine) as session:
        assert evaluations.reputation_of(bob_uri, session=session).mean is not None
        sent = [
            json.loads(r.payload)
            for r in session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id)))
        ]
    assert [(a["object"]["id"], a["to"]) for a in sent] == [(mine.ap_id, [ALICE]), (mine.ap_id, [PUBLIC])]

    # The publication of Alice's evaluation by her node, arriving later, changes nothing more.
    public = review_activity(evaluated=bob_uri, public=True, review_id=received.ap_id)
    assert handle(engine, settings, public, {AGREEMENT: served}) is Outcome.IGNORED
    assert len(stored(engine)) == 2


def test_publication_reveals_the_hidden_copy(
    engine: Engine, settings: Settings, bob: User, mirror: Agreement
) -> None:
    bob_uri = uri(settings, bob)
    served = {AGREEMENT: agreement_doc(provider=bob_uri, requester=ALICE)}
    hidden = review_activity(evaluated=bob_uri)
    handle(engine, settings, hidden, served)
    assert standings_agree(engine) == {}
    review_id = hidden["object"]["id"]
    # 14 days later Alice's node publishes it although Bob never evaluated her.
    assert (
        handle(engine, settings, review_activity(evaluated=bob_uri, public=True, review_id=review_id))
        is Outcome.DONE
    )
    [row] = stored(engine)
    assert row.state == "published" and row.published_at is not None
    assert standings_agree(engine) == {bob_uri: (1, 500)}
    with Session(engine) as session:
        notes = session.exec(select(Notification.kind).where(Notification.user_id == bob.id)).all()
    assert sorted(notes) == ["evaluation_published", "evaluation_received"]


def test_third_node_stores_published_evaluations_only(engine: Engine, settings: Settings) -> None:
    bob = "https://bagnolet.example/users/bob"
    served = {AGREEMENT: agreement_doc(provider=bob, requester=ALICE)}
    assert handle(engine, settings, review_activity(evaluated=bob), served) is Outcome.IGNORED
    assert stored(engine) == []
    assert handle(engine, settings, review_activity(evaluated=bob, public=True), served) is Outcome.DONE
    assert standings_agree(engine) == {bob: (1, 500)}
    [row] = stored(engine)
    assert row.state == "published" and row.agreement_id is None and row.evaluated_role == "provider"
    with Session(engine) as session:
        reputation = evaluations.reputation_of(bob, session=session)
    assert (str(reputation.mean), reputation.count, reputation.by_node) == (
        "5.00",
        1,
        {"montreuil.example": 1},
    )


def test_forged_evaluator_refused(engine: Engine, settings: Settings) -> None:
    bob = "https://bagnolet.example/users/bob"
    mallory = A + "/users/mallory"
    served = {AGREEMENT: agreement_doc(provider=bob, requester=ALICE)}
    forged = review_activity(evaluated=bob, public=True, signer=mallory)
    with pytest.raises(PermanentFailure, match="signed by"):
        handle(engine, settings, forged, served)
    other_origin = review_activity(evaluated=bob, public=True, review_id="https://evil.example/evaluations/1")
    with pytest.raises(PermanentFailure):
        handle(engine, settings, other_origin, served)
    assert stored(engine) == []


@pytest.mark.parametrize(
    ("provider", "requester", "evaluated", "role", "state"),
    [
        # Alice is not a party of the agreement her origin serves.
        (
            "https://bagnolet.example/users/bob",
            A + "/users/zoe",
            "https://bagnolet.example/users/bob",
            "provider",
            "completed",
        ),
        # Alice evaluates someone who is not the other party.
        (
            "https://bagnolet.example/users/bob",
            ALICE,
            "https://bagnolet.example/users/eve",
            "provider",
            "completed",
        ),
        # The role stated does not match.
        (
            "https://bagnolet.example/users/bob",
            ALICE,
            "https://bagnolet.example/users/bob",
            "requester",
            "completed",
        ),
        # Not completed.
        (
            "https://bagnolet.example/users/bob",
            ALICE,
            "https://bagnolet.example/users/bob",
            "provider",
            "accepted",
        ),
        (
            "https://bagnolet.example/users/bob",
            ALICE,
            "https://bagnolet.example/users/bob",
            "provider",
            "confirmed_by_one",
        ),
        (
            "https://bagnolet.example/users/bob",
            ALICE,
            "https://bagnolet.example/users/bob",
            "provider",
            "cancelled",
        ),
    ],
)
def test_non_party_or_not_completed_refused(
    engine: Engine,
    settings: Settings,
    provider: str,
    requester: str,
    evaluated: str,
    role: Role,
    state: str,
) -> None:
    served = {AGREEMENT: agreement_doc(provider=provider, requester=requester, state=state)}
    with pytest.raises(PermanentFailure):
        handle(engine, settings, review_activity(evaluated=evaluated, role=role, public=True), served)
    assert stored(engine) == []


def test_origin_serving_something_else_refused(engine: Engine, settings: Settings) -> None:
    bob = "https://bagnolet.example/users/bob"
    activity = review_activity(evaluated=bob, public=True)
    for served in (
        agreement_doc(provider=bob, requester=ALICE, ap_id=A + "/agreements/other"),
        {"id": AGREEMENT, "type": "Note", "content": "completed"},
        {**agreement_doc(provider=bob, requester=ALICE), "stipulates": {"type": "Commitment"}},
    ):
        with pytest.raises(PermanentFailure):
            handle(engine, settings, activity, {AGREEMENT: served})
    assert stored(engine) == []


def test_agreement_held_here_is_read_from_the_database(engine: Engine, settings: Settings) -> None:
    alice = make_user(engine, "alice")
    remote_bob = "https://bagnolet.example/users/bob"
    held = make_agreement(
        engine, settings, provider=remote_bob, requester=uri(settings, alice), state="disputed"
    )
    activity = review_activity(
        evaluator=remote_bob, evaluated=uri(settings, alice), agreement=held.ap_id, role="requester"
    )
    with pytest.raises(PermanentFailure, match="not completed"):
        handle(engine, settings, activity)
    unknown = review_activity(
        evaluator=remote_bob,
        evaluated=uri(settings, alice),
        agreement=settings.url("/agreements/nope"),
        role="requester",
    )
    with pytest.raises(PermanentFailure, match="no such agreement"):
        handle(engine, settings, unknown)
    assert stored(engine) == []
    with db.session_scope(engine) as session:
        row = session.get(Agreement, held.id)
        assert row is not None
        row.state, row.completed_at = "completed", utcnow() - timedelta(days=2)
    assert handle(engine, settings, activity) is Outcome.DONE
    assert [e.state for e in stored(engine)] == ["submitted"]


def test_late_evaluation_refused(engine: Engine, settings: Settings, bob: User) -> None:
    make_agreement(
        engine,
        settings,
        provider=uri(settings, bob),
        requester=ALICE,
        ap_id=AGREEMENT,
        completed_at=utcnow() - timedelta(days=20),
    )
    served = {AGREEMENT: agreement_doc(provider=uri(settings, bob), requester=ALICE)}
    with pytest.raises(PermanentFailure, match="window"):
        handle(engine, settings, review_activity(evaluated=uri(settings, bob)), served)
    assert stored(engine) == []


def test_duplicates_and_second_evaluations_ignored(engine: Engine, settings: Settings) -> None:
    bob = "https://bagnolet.example/users/bob"
    served = {AGREEMENT: agreement_doc(provider=bob, requester=ALICE)}
    first = review_activity(evaluated=bob, public=True, overall=5)
    assert handle(engine, settings, first, served) is Outcome.DONE
    replay = {**first, "id": first["id"] + "-again"}
    assert handle(engine, settings, replay, served) is Outcome.IGNORED
    second = review_activity(evaluated=bob, public=True, overall=1)
    assert handle(engine, settings, second, served) is Outcome.IGNORED
    assert [e.overall for e in stored(engine)] == [5]
    hijack = review_activity(
        evaluated=bob, public=True, review_id=first["object"]["id"], agreement=A + "/agreements/x"
    )
    with pytest.raises(PermanentFailure):
        handle(engine, settings, hijack, served)


def test_hostile_text_is_sanitised(engine: Engine, settings: Settings) -> None:
    bob = "https://bagnolet.example/users/bob"
    served = {AGREEMENT: agreement_doc(provider=bob, requester=ALICE)}
    activity = review_activity(evaluated=bob, public=True)
    activity["object"]["content"] = (
        '<p>Bien <script>alert("x")</script><a href="javascript:x">ici</a></p>' + "x" * 5000
    )
    assert handle(engine, settings, activity, served) is Outcome.DONE
    [row] = stored(engine)
    assert row.comment.startswith("Bien ici") and "<" not in row.comment and len(row.comment) <= 1000


def test_other_creates_are_not_ours(engine: Engine, settings: Settings) -> None:
    note = {
        "id": A + "/activities/1",
        "type": "Create",
        "actor": ALICE,
        "object": {"type": "Note", "id": A + "/n/1"},
    }
    assert handle(engine, settings, note) is Outcome.IGNORED
    # A review named only by id is never read as an evaluation: the marketplace fetches such an object
    # as a proposal or a reply (its kind is "reference"), and the evaluation handler ignores it.
    by_id = parse_activity(
        {"id": A + "/activities/2", "type": "Create", "actor": ALICE, "object": A + "/evaluations/1"}
    )
    with db.session_scope(engine) as session:
        row = InboxActivity(
            activity_id=by_id.id, actor_uri=ALICE, type="Create", payload="{}", key_id=ALICE + "#main-key"
        )
        ctx = ProcessingContext(session, settings, row, {})
        assert market_federation.classify(ctx, by_id) == "reference"
        assert evaluations_federation.on_review(ctx, by_id) is Outcome.IGNORED
    broken = review_activity(evaluated="https://bagnolet.example/users/bob", public=True)
    broken["object"]["reviewRating"] = {"type": "Rating", "ratingValue": 9}
    with pytest.raises(PermanentFailure, match="unreadable"):
        handle(engine, settings, broken)


# --- through the inbox job, with the agreement fetched from a real origin -------------------------------


@pytest.fixture
def origin() -> Iterator[ActorServer]:
    with ActorServer() as server:
        yield server


def run_inbox(settings: Settings, engine: Engine, activity: dict[str, Any]) -> InboxActivity:
    with db.session_scope(engine) as session:
        row = InboxActivity(
            activity_id=activity["id"],
            actor_uri=activity["actor"],
            type="Create",
            payload=json.dumps(activity),
            key_id=activity["actor"] + "#main-key",
        )
        session.add(row)

    async def main() -> None:
        remote = RemoteActors(settings, engine)
        job = InboxJob(settings, engine, remote=remote, dispatcher=inbox_dispatcher())
        try:
            while await job.run_once():
                pass
        finally:
            await job.aclose()
            await remote.aclose()

    asyncio.run(main())
    with Session(engine) as session:
        found = session.exec(select(InboxActivity).where(InboxActivity.activity_id == activity["id"])).one()
        return found


@pytest.mark.parametrize("status", [404, 401, 410])
def test_agreement_denied_by_its_origin(
    engine: Engine, settings: Settings, origin: ActorServer, status: int
) -> None:
    loopback = settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3)
    alice = origin.url("/users/alice")
    agreement = origin.url("/agreements/9f3a")
    bob = "https://bagnolet.example/users/bob"
    origin.serve_json("/agreements/9f3a", {"error": "denied"}, status=status)
    row = run_inbox(
        loopback, engine, review_activity(evaluator=alice, evaluated=bob, agreement=agreement, public=True)
    )
    assert row.state == InboxState.FAILED.value
    assert origin.hits("/agreements/9f3a") == 1
    signed = origin.requests[-1][1]
    assert "signature" in signed and 'keyId="http://testserver/actor#main-key"' in signed["signature"]
    assert stored(engine) == []


def test_agreement_fetched_from_its_origin_accepts(
    engine: Engine, settings: Settings, origin: ActorServer
) -> None:
    loopback = settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3)
    alice = origin.url("/users/alice")
    agreement = origin.url("/agreements/9f3a")
    bob = "https://bagnolet.example/users/bob"
    origin.serve_json("/agreements/9f3a", agreement_doc(provider=bob, requester=alice, ap_id=agreement))
    row = run_inbox(
        loopback, engine, review_activity(evaluator=alice, evaluated=bob, agreement=agreement, public=True)
    )
    assert row.state == InboxState.DONE.value, row.error
    [evaluation] = stored(engine)
    assert evaluation.evaluator_uri == alice and evaluation.state == "published"
