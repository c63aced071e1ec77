"""Evaluations on one node: who may evaluate, the rules on scores and comments, double-blind reveal
(when both are in, or 14 days after completion), what is sent to other nodes, and reputations."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.models import Delivery, OutboxActivity
from node.core import db
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.market.evaluations import service as evaluations
from node.market.jobs import MarketJob
from node.market.models import Agreement, Notification
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.evaluations import completed_pair, make_agreement, standings_agree, stored, submit, uri

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
REMOTE_BOB = "https://bagnolet.example/users/bob"


def outbox(engine: Engine) -> list[tuple[dict[str, Any], bool]]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id))).all()
        return [(json.loads(row.payload), row.public) for row in rows]


@pytest.fixture
def people(engine: Engine, settings: Settings) -> tuple[User, User, Agreement]:
    return completed_pair(engine, settings)


def test_double_blind_hidden_until_both_are_in(
    engine: Engine, settings: Settings, people: tuple[User, User, Agreement]
) -> None:
    alice, bob, agreement = people
    first = submit(engine, settings, alice, agreement, 4, criteria={"punctuality": 5, "quality": 3})
    assert first.state == "submitted" and first.evaluated_role == "provider"
    assert standings_agree(engine) == {}  # hidden: counts for nobody yet
    assert first.evaluated_uri == uri(settings, bob)
    with Session(engine) as session:
        assert [
            e.ap_id for e in evaluations.visible_to(agreement, uri(settings, alice), session=session)
        ] == [first.ap_id]
        assert evaluations.visible_to(agreement, uri(settings, bob), session=session) == []
        assert evaluations.reputation_of(uri(settings, bob), session=session).count == 0
        assert evaluations.count_published_of(uri(settings, bob), session=session) == 0
    assert outbox(engine) == []  # both parties are here: nothing to send, nothing public yet

    second = submit(engine, settings, bob, agreement, 5, criteria={"clarity": 4, "payment": 5})
    assert second.evaluated_role == "requester"
    assert {e.state for e in stored(engine)} == {"published"}
    assert standings_agree(engine) == {uri(settings, bob): (1, 400), uri(settings, alice): (1, 500)}
    with Session(engine) as session:
        assert len(evaluations.visible_to(agreement, uri(settings, bob), session=session)) == 2
        bob_rep = evaluations.reputation_of(uri(settings, bob), session=session)
        assert (bob_rep.mean, bob_rep.count, bob_rep.criteria) == (
            Decimal("4.00"),
            1,
            {"punctuality": Decimal("5.00"), "quality": Decimal("3.00")},
        )
        assert bob_rep.by_node == {"testserver": 1}
        kinds = session.exec(
            select(Notification.user_id, Notification.kind).order_by(col(Notification.id))
        ).all()
    assert kinds.count((bob.id, "evaluation_received")) == 1
    assert kinds.count((alice.id, "evaluation_received")) == 1
    assert {(alice.id, "evaluation_published"), (bob.id, "evaluation_published")} <= set(kinds)
    published = outbox(engine)
    assert len(published) == 2 and all(public for _, public in published)
    for activity, _ in published:
        assert activity["type"] == "Create" and activity["to"] == [PUBLIC]
        assert activity["object"]["type"] == "Review"
        assert activity["object"]["context"] == agreement.ap_id


def test_revealed_fourteen_days_after_completion(engine: Engine, settings: Settings) -> None:
    alice = make_user(engine, "alice")
    completed = utcnow() - timedelta(days=20)
    agreement = make_agreement(
        engine,
        settings,
        provider=REMOTE_BOB,
        requester=uri(settings, alice),
        requester_id=alice.id,
        completed_at=completed,
    )
    written = submit(
        engine, settings, alice, agreement, 2, comment="En retard.", now=completed + timedelta(days=3)
    )
    # Sent at once, hidden: to Bob only, not listed in the outbox collection.
    [(hidden, public)] = outbox(engine)
    assert not public and hidden["to"] == [REMOTE_BOB] and "cc" not in hidden
    assert hidden["object"]["id"] == written.ap_id and hidden["object"]["content"] == "<p>En retard.</p>"
    with Session(engine) as session:
        assert session.exec(select(Delivery.target)).all() == [REMOTE_BOB]

    with db.session_scope(engine) as session:
        assert (
            evaluations.reveal_due_evaluations(
                settings, completed + timedelta(days=13, hours=23), session=session
            )
            == 0
        )
    assert stored(engine)[0].state == "submitted"
    with db.session_scope(engine) as session:
        assert (
            evaluations.reveal_due_evaluations(settings, completed + timedelta(days=14), session=session) == 1
        )
        assert (
            evaluations.reveal_due_evaluations(settings, completed + timedelta(days=15), session=session) == 0
        )
    [row] = stored(engine)
    assert row.state == "published" and row.published_at is not None
    (_, _), (create, public) = outbox(engine)
    assert public and create["to"] == [PUBLIC] and REMOTE_BOB in create["cc"]
    assert create["object"]["to"] == [PUBLIC]
    with Session(engine) as session:
        assert evaluations.reputation_of(REMOTE_BOB, session=session).count == 1


def test_non_party_refused(engine: Engine, settings: Settings, people: tuple[User, User, Agreement]) -> None:
    *_, agreement = people
    carol = make_user(engine, "carol")
    with pytest.raises(PermissionDenied):
        submit(engine, settings, carol, agreement, 1)
    assert stored(engine) == [] and outbox(engine) == []


@pytest.mark.parametrize("state", ["accepted", "confirmed_by_one", "cancelled", "disputed"])
def test_agreement_not_completed_refused(engine: Engine, settings: Settings, state: str) -> None:
    alice, bob = make_user(engine, "alice"), make_user(engine, "bob")
    agreement = make_agreement(
        engine, settings, provider=uri(settings, bob), requester=uri(settings, alice), state=state
    )
    with pytest.raises(Conflict, match="completed"):
        submit(engine, settings, alice, agreement, 5)
    assert stored(engine) == []


def test_window_closed_refused(engine: Engine, settings: Settings) -> None:
    alice = make_user(engine, "alice")
    completed = utcnow() - timedelta(days=14, seconds=1)
    agreement = make_agreement(
        engine, settings, provider=REMOTE_BOB, requester=uri(settings, alice), completed_at=completed
    )
    with pytest.raises(Conflict, match="over"):
        submit(engine, settings, alice, agreement, 5)
    assert stored(engine) == [] and outbox(engine) == []


def test_second_evaluation_refused(
    engine: Engine, settings: Settings, people: tuple[User, User, Agreement]
) -> None:
    alice, _, agreement = people
    submit(engine, settings, alice, agreement, 5)
    with pytest.raises(Conflict, match="already"):
        submit(engine, settings, alice, agreement, 1)
    assert [e.overall for e in stored(engine)] == [5]


@pytest.mark.parametrize(
    ("overall", "criteria", "comment", "field"),
    [
        (None, {}, "", "overall"),
        (0, {}, "", "overall"),
        (6, {}, "", "overall"),
        (5, {"punctuality": 0}, "", "criteria.punctuality"),
        (5, {"quality": 9}, "", "criteria.quality"),
        (5, {"clarity": 4}, "", "criteria.clarity"),  # a criterion of requesters, Bob is the provider
        (5, {"charm": 4}, "", "criteria.charm"),
        (5, {}, "x" * 1001, "comment"),
    ],
)
def test_scores_and_comment_checked(
    engine: Engine,
    settings: Settings,
    people: tuple[User, User, Agreement],
    overall: int | None,
    criteria: dict[str, int | None],
    comment: str,
    field: str,
) -> None:
    alice, _, agreement = people
    with pytest.raises(ValidationFailed) as refused:
        submit(engine, settings, alice, agreement, overall, criteria=criteria, comment=comment)
    assert field in refused.value.fields
    assert stored(engine) == []


def test_comment_is_plain_text_and_unrated_criteria_left_out(
    engine: Engine, settings: Settings, people: tuple[User, User, Agreement]
) -> None:
    alice, _, agreement = people
    comment = "<script>alert(1)</script><b>Très</b> bien\r\n\r\n\r\nmerci " + "é" * 900
    row = submit(
        engine, settings, alice, agreement, 5, criteria={"respect": 5, "quality": None}, comment=comment
    )
    assert row.comment.startswith("Très bien\n\nmerci é") and "<" not in row.comment
    assert json.loads(row.criteria) == {"respect": 5}


def test_find_agreement_by_row_id_uuid_and_mirror(engine: Engine, settings: Settings) -> None:
    alice = make_user(engine, "alice")
    held = make_agreement(engine, settings, provider=REMOTE_BOB, requester=uri(settings, alice))
    mirrored = make_agreement(
        engine,
        settings,
        provider=uri(settings, alice),
        requester=REMOTE_BOB,
        ap_id="https://bagnolet.example/agreements/9f3a-77",
    )
    numbered = make_agreement(
        engine,
        settings,
        provider=uri(settings, alice),
        requester=REMOTE_BOB,
        ap_id="https://other.example/a/42",
    )
    with Session(engine) as session:
        for row in (held, mirrored, numbered):
            ref = evaluations.agreement_ref(row)
            found = evaluations.find_agreement(settings, ref, session=session)
            assert found is not None and found.ap_id == row.ap_id
        assert evaluations.agreement_ref(numbered) == str(numbered.id)
        assert evaluations.find_agreement(settings, "9f3a-77", session=session) is not None
        for unknown in ("nope", "../etc", "%", "9" * 30, ""):
            assert evaluations.find_agreement(settings, unknown, session=session) is None


def test_reputations_of_several_people(engine: Engine, settings: Settings) -> None:
    alice, carol = make_user(engine, "alice"), make_user(engine, "carol")
    past = utcnow() - timedelta(days=30)
    for person, score in ((alice, 4), (carol, 5)):
        agreement = make_agreement(
            engine, settings, provider=REMOTE_BOB, requester=uri(settings, person), completed_at=past
        )
        submit(engine, settings, person, agreement, score, criteria={"respect": score}, now=past)
    with db.session_scope(engine) as session:
        evaluations.reveal_due_evaluations(settings, session=session)
    with Session(engine) as session:
        found = evaluations.reputations_of([REMOTE_BOB, uri(settings, alice)], session=session)
    assert found[REMOTE_BOB].mean == Decimal("4.50") and found[REMOTE_BOB].count == 2
    assert found[REMOTE_BOB].distribution == {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert found[REMOTE_BOB].criteria == {"respect": Decimal("4.50")}
    assert found[uri(settings, alice)].count == 0 and found[uri(settings, alice)].mean is None


def test_market_job_reveals_evaluations_at_most_once_a_minute(engine: Engine, settings: Settings) -> None:
    alice = make_user(engine, "alice")
    completed = utcnow() - timedelta(days=10)
    agreement = make_agreement(
        engine, settings, provider=REMOTE_BOB, requester=uri(settings, alice), completed_at=completed
    )
    submit(engine, settings, alice, agreement, 3)
    seconds = [0.0]
    today = [utcnow()]
    job = MarketJob(settings, engine, clock=lambda: today[0], monotonic=lambda: seconds[0])

    async def scenario() -> list[int]:
        counts = [await job.run_once()]  # not due yet
        today[0] += timedelta(days=5)
        seconds[0] = 30.0
        counts.append(await job.run_once())  # due, but the last pass is 30 s old
        seconds[0] = 61.0
        counts.append(await job.run_once())
        await job.aclose()
        return counts

    assert asyncio.run(scenario()) == [0, 0, 1]
    assert stored(engine)[0].state == "published"
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxActivity)).one() == 2
