"""Transfers between two cooperative nodes in one process (tests/support/timebank.py): the payer's
node holds and offers, the payee's node decides once and answers; whatever the network loses, repeats
or reorders, and whatever step a node stops at (every step commits or leaves nothing), once the
messages get through every transfer is applied exactly once on both nodes and the clearing balances
mirror each other. Also the peer cap, refusals for good, claims by another origin, replays."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.models import Delivery, InboxActivity, OutboxActivity
from node.core.errors import DomainError
from node.core.timeutil import utcnow
from node.market.models import Notification
from node.timebank import ledger, transfers
from node.timebank.jobs import TimebankJob
from node.timebank.models import ClearingDigest, Entry, TimebankAccount, Transfer
from tests.support.federation import Federation, Node
from tests.support.market import person
from tests.support.timebank import Message, Network, balance, two_cooperatives  # noqa: F401

TABLES = (Entry, Transfer, ClearingDigest, TimebankAccount, InboxActivity, Delivery, OutboxActivity)


def users(node: Node, *names: str) -> list[User]:
    return [person(node.engine, name, status="volunteer") for name in names]


def give(node: Node, giver: User, recipient: str, amount: str) -> Transfer | None:
    with Session(node.engine, expire_on_commit=False) as session:
        try:
            gift = transfers.give(session, node.settings, giver, recipient, amount, confirm=True)
        except DomainError:
            return None
        session.commit()
        return gift


def job(node: Node, *, due: bool = False) -> None:
    if due:
        with Session(node.engine) as session:
            session.execute(
                update(Transfer)
                .where(col(Transfer.next_attempt_at).is_not(None))
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
    TimebankJob(node.settings, node.engine, interval=0).run_steps()


def kinds_told(node: Node, user: User) -> list[str]:
    """The time bank's notifications ``user`` got, oldest first."""
    with Session(node.engine) as session:
        rows = session.exec(
            select(Notification.kind)
            .where(Notification.user_id == user.pk, col(Notification.kind).startswith("timebank_"))
            .order_by(col(Notification.id))
        ).all()
    return list(rows)


def transfers_of(node: Node) -> dict[str, tuple[str, int, str]]:
    with Session(node.engine) as session:
        return {
            t.uri: (t.state, t.amount, t.direction)
            for t in session.exec(select(Transfer).where(Transfer.direction != "")).all()
        }


def flow(net: Network) -> None:
    """Deliver everything the nodes send, without loss, until quiet (no offer sent again)."""
    while net.collect() or net.in_flight:
        for message in list(net.in_flight):
            net.deliver(message)
        net.in_flight.clear()
        net.process_all()


def heal(net: Network) -> None:
    """Nothing lost any more: offer again what has no answer, deliver everything, until quiet."""
    for _ in range(6):
        for node in net.federation.nodes:
            job(node, due=True)
        while net.collect() or net.in_flight:
            for message in list(net.in_flight):
                net.deliver(message)
            net.in_flight.clear()
            net.process_all()
        if not any(
            state == "pending" for node in net.federation.nodes for state, _, _ in transfers_of(node).values()
        ):
            return
    raise AssertionError("transfers still pending after healing")


def assert_mirrored(fed: Federation) -> None:
    a, b = fed.nodes
    on_a, on_b = transfers_of(a), transfers_of(b)
    settled_a = {uri: amount for uri, (state, amount, _) in on_a.items() if state == "settled"}
    settled_b = {uri: amount for uri, (state, amount, _) in on_b.items() if state == "settled"}
    assert settled_a == settled_b
    assert balance(a.engine, f"clearing:{b.settings.domain}") == -balance(
        b.engine, f"clearing:{a.settings.domain}"
    )


def test_a_gift_to_another_node_is_held_offered_and_settled(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    (alice,) = users(a, "alice")
    (bob,) = users(b, "bob")
    job(b)
    gift = give(a, alice, b.uri("bob"), "1.5")
    assert gift is not None and (gift.state, gift.exchange_state) == ("pending", "offering")
    with Session(a.engine) as session:
        account = session.exec(select(TimebankAccount).where(TimebankAccount.user_id == alice.pk)).one()
        assert (account.balance, account.held_out) == (200, 150)
    net = Network(two_cooperatives)
    net.collect()
    offer = net.in_flight[0].payload
    assert offer["type"] == "Offer" and offer["object"]["type"] == "EconomicEvent"
    assert offer["object"]["id"] == gift.uri and offer["to"] == [b.uri("bob")]
    flow(net)
    assert transfers_of(a)[gift.uri] == ("settled", 150, "out")
    assert transfers_of(b)[gift.uri] == ("settled", 150, "in")
    assert balance(a.engine, f"clearing:{b.settings.domain}") == 150
    assert balance(b.engine, f"clearing:{a.settings.domain}") == -150
    assert balance(b.engine, f"person:{bob.pk}") == 350
    rows = two_cooperatives.inbox_rows(a) + two_cooperatives.inbox_rows(b)
    assert {(r.kind, r.state) for r in rows} == {("transfer-offer", "done"), ("transfer-answer", "done")}


def test_every_copy_of_an_offer_gets_the_same_answer_and_applies_once(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    (alice,) = users(a, "alice")
    users(b, "bob")
    gift = give(a, alice, b.uri("bob"), "1")
    assert gift is not None
    net = Network(two_cooperatives)
    net.collect()
    first = net.in_flight[0]
    net.deliver(first)
    net.process_all()
    # The same transfer offered again (a new activity): the payee's node answers from what it stored.
    job(a, due=True)
    net.collect()
    for message in list(net.in_flight):
        net.deliver(message)
    net.in_flight.clear()
    net.process_all()
    heal(net)
    with Session(b.engine) as session:
        assert len(session.exec(select(Transfer).where(Transfer.uri == gift.uri)).all()) == 1
        assert len(session.exec(select(Entry).join(Transfer).where(Transfer.uri == gift.uri)).all()) == 2
    assert_mirrored(two_cooperatives)


def test_the_peer_cap_defers_a_transfer_until_it_allows(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    alice, ana = users(a, "alice", "ana")
    (bob,) = users(b, "bob")
    with Session(b.engine) as session:  # B allows A at most 1 hour
        from node.timebank import accounts

        accounts.clearing(session, a.settings.domain).cap = 100
        session.commit()
    net = Network(two_cooperatives)
    first = give(a, alice, b.uri("bob"), "1")
    second = give(a, ana, b.uri("bob"), "0.5")
    assert first is not None and second is not None
    flow(net)
    with Session(a.engine) as session:
        rows = session.exec(select(Transfer).where(col(Transfer.uri).in_([first.uri, second.uri]))).all()
        states = sorted((row.state, row.exchange_state or "", row.refusal) for row in rows)
    assert states == [("pending", "deferred", "peer-cap"), ("settled", "accepted", "")]
    job(a, due=True)  # offered again, deferred again: told once
    flow(net)
    assert kinds_told(a, ana) == ["timebank_waiting"] and kinds_told(a, alice) == []
    assert kinds_told(b, bob) == ["timebank_received"]
    with Session(b.engine) as session:  # the admins raise the cap: the deferred one goes through
        clearing = session.exec(
            select(TimebankAccount).where(TimebankAccount.peer == a.settings.domain)
        ).one()
        clearing.cap = 500
        session.commit()
    heal(net)
    assert {state for state, _, _ in transfers_of(a).values()} == {"settled"}
    assert_mirrored(two_cooperatives)


def test_a_refusal_for_good_releases_the_hold(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    (alice,) = users(a, "alice")
    gift = give(a, alice, b.uri("nobody"), "1")
    assert gift is not None
    heal(Network(two_cooperatives))
    assert transfers_of(a)[gift.uri][0] == "refused"
    assert transfers_of(b)[gift.uri][0] == "refused"  # stored: a late copy gets the same answer
    with Session(a.engine) as session:
        row = session.exec(select(Transfer).where(Transfer.uri == gift.uri)).one()
        assert (row.refusal, row.exchange_state) == ("unknown-payee", "refused")
    assert balance(a.engine, f"person:{alice.pk}") == 200
    assert balance(b.engine, f"clearing:{a.settings.domain}") == 0
    assert kinds_told(a, alice) == ["timebank_refused"]


def test_a_transfer_claimed_by_another_origin_is_refused(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    (alice,) = users(a, "alice")
    users(b, "bob")
    gift = give(a, alice, b.uri("bob"), "1")
    assert gift is not None
    net = Network(two_cooperatives)
    net.collect()
    # Another node replays A's transfer as its own: the inbox keeps only the id of an object of
    # another origin, which is no transfer. Or it mints a transfer of its own paid by A's Alice:
    # refused, since only the payer's node may claim it.
    target = net.in_flight[0].target
    copied = json.loads(json.dumps(net.in_flight[0].payload))
    copied.update(id="https://evil.example/activities/1", actor="https://evil.example/actor")
    minted = json.loads(json.dumps(copied))
    minted["id"] = "https://evil.example/activities/2"
    minted["object"]["id"] = "https://evil.example/timebank/transfers/1"
    net.deliver(Message(target, copied))
    net.deliver(Message(target, minted))
    net.in_flight.clear()
    net.process_all()
    rows = two_cooperatives.inbox_rows(b)
    assert [(r.state, "payer's node" in (r.error or "")) for r in rows] == [
        ("ignored", False),
        ("failed", True),
    ]
    assert transfers_of(b) == {}


def test_a_replayed_transfer_id_with_another_amount_changes_nothing(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    (alice,) = users(a, "alice")
    (bob,) = users(b, "bob")
    gift = give(a, alice, b.uri("bob"), "1")
    assert gift is not None
    net = Network(two_cooperatives)
    net.collect()
    tampered = json.loads(json.dumps(net.in_flight[0].payload))
    heal(net)
    tampered["id"] += "-again"
    tampered["object"]["resourceQuantity"]["hasNumericalValue"] = "9"
    net.deliver(Message(b.uri("bob"), tampered))
    net.process_all()
    assert balance(b.engine, f"person:{bob.pk}") == 300
    net.collect()
    assert [m.payload["refusal"] for m in net.in_flight] == ["conflicting-transfer"]
    net.in_flight.clear()


FAULTS = st.lists(
    st.tuples(
        st.sampled_from(["a->b", "b->a", "a->a"]),
        st.sampled_from(["0.5", "1", "2.25", "30", "0"]),
        st.floats(min_value=0, max_value=0.6),
        st.floats(min_value=0, max_value=0.6),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


@hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=FAULTS, seed=st.integers(0, 2**16))
def test_whatever_the_network_does_every_transfer_lands_once_on_both_nodes(
    two_cooperatives: Federation,  # noqa: F811
    steps: list[tuple[str, str, float, float, bool]],
    seed: int,
) -> None:
    a, b = two_cooperatives.nodes
    for node in (a, b):
        with Session(node.engine) as session:
            session.execute(update(Transfer).values(reverses_id=None))
            for table in TABLES:
                session.execute(delete(table))
            session.commit()
    people: dict[str, User] = {}
    for node, name in ((a, "alice"), (a, "ana"), (b, "bob")):
        with Session(node.engine, expire_on_commit=False) as session:
            found = session.exec(select(User).where(User.username == name)).first()
        people[name] = found or person(node.engine, name, status="volunteer")
    rng = random.Random(seed)
    net = Network(two_cooperatives)
    for direction, amount, loss, repeat, run_jobs in steps:
        if direction == "a->b":
            give(a, people["alice"], b.uri("bob"), amount)
        elif direction == "b->a":
            give(b, people["bob"], a.uri("ana"), amount)
        else:
            give(a, people["ana"], "alice", amount)
        net.collect()
        net.shake(rng, loss=loss, repeat=repeat)
        net.process_all()
        if run_jobs:
            job(a, due=True)
            job(b, due=True)
        for node in (a, b):
            with Session(node.engine) as session:
                report = ledger.verify(
                    session, __import__("node.timebank.policy", fromlist=["Policy"]).Policy.of(node.settings)
                )
            assert report.ok and not report.warnings, (report.problems, report.warnings)
    heal(net)
    assert_mirrored(two_cooperatives)
