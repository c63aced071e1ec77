"""Reconciliation between two in-process cooperative nodes: signed statements fetched as the peer's
endpoint serves them, compared by digests; what a lost message left half-done is repaired from the
peer's signed word; a statement signed by another key, or for another nonce, is refused and changes
nothing; agreeing moves the point, and the next statements cover only what came after."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, select

from node.accounts.models import User
from node.activitypub import keys
from node.activitypub.actors import local
from node.core import db
from node.core.errors import Conflict, ValidationFailed
from node.market.schedule import parse_instant
from node.timebank import digests, reconcile, settlement, statements, transfers
from node.timebank.models import ClearingDigest, TimebankAccount, Transfer
from tests.support.federation import Federation, Node
from tests.support.market import person
from tests.support.timebank import Network, balance, two_cooperatives  # noqa: F401


def serve_statement(node: Node, url: str, asker: str, *, version: int | None = None) -> dict[str, Any]:
    """What ``node``'s ``/timebank/clearing/{asker}`` answers, as JSON on the wire (``version``: the
    digests a node of that version states, whatever is asked)."""
    query = parse_qs(urlsplit(url).query)
    since = parse_instant(query["since"][0]) if "since" in query else None
    buckets = query.get("buckets", [""])[0].split(",") if "buckets" in query else []
    with db.session_scope(node.engine) as session:
        document = reconcile.statement(
            session,
            node.settings,
            asker,
            since=since,
            nonce=query["nonce"][0],
            buckets=[b for b in buckets if b],
            url=url,
            version=version or int(query.get("digests", ["1"])[0]),
        )
        signed = reconcile.sign(session, node.settings, document)
    return dict(json.loads(json.dumps(signed)))


def key_of(node: Node) -> tuple[str, str]:
    with db.session_scope(node.engine) as session:
        key = keys.ensure_key(keys.NODE_OWNER, node.settings.effective_secret_key, session=session)
        return local.node_actor(node.settings).key_id, key.public_pem


def run_reconcile(a: Node, b: Node, *, tamper: Any = None, version: int | None = None) -> reconcile.Report:
    async def fetch(url: str) -> Mapping[str, Any]:
        document = serve_statement(b, url, a.settings.domain, version=version)
        return tamper(document) if tamper else document

    async def key(actor: str) -> tuple[str, str]:
        assert actor == local.node_actor(b.settings).uri
        return key_of(b)

    return asyncio.run(
        reconcile.reconcile(
            a.settings, a.engine, b.settings.domain, "https://" + b.settings.domain, fetch, key
        )
    )


def gift(node: Node, giver: User, to: str, amount: str) -> Transfer:
    with Session(node.engine, expire_on_commit=False) as session:
        made = transfers.give(session, node.settings, giver, to, amount, confirm=True)
        session.commit()
        return made


def flow(net: Network, *, drop_answers_to: Node | None = None) -> None:
    while net.collect() or net.in_flight:
        for message in list(net.in_flight):
            if drop_answers_to is not None and net.federation.node_of(message.target) is drop_answers_to:
                continue
            net.deliver(message)
        net.in_flight.clear()
        net.process_all()


def state(node: Node, uri: str) -> str:
    with Session(node.engine) as session:
        return session.exec(select(Transfer.state).where(Transfer.uri == uri)).one()


def test_a_lost_accept_is_repaired_from_the_peers_signed_statement(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    person(b.engine, "bob", status="volunteer")
    net = Network(two_cooperatives)
    done = gift(a, alice, b.uri("bob"), "1")
    flow(net)
    lost = gift(a, alice, b.uri("bob"), "0.5")
    flow(net, drop_answers_to=a)  # B applied it, its Accept never reached A
    assert (state(a, lost.uri), state(b, lost.uri)) == ("pending", "settled")
    report = run_reconcile(a, b)
    assert [(d.transfer, d.ours, d.theirs, d.repair) for d in report.differences] == [
        (lost.uri, "pending", "settled", "applied")
    ]
    assert state(a, lost.uri) == "settled" and state(a, done.uri) == "settled"
    assert report.mirrored and report.balance == 150 and report.peer_balance == -150
    assert report.agreed  # repaired from the peer's signed word, nothing left open
    again = run_reconcile(a, b)
    assert again.differences == [] and again.agreed and again.compared == 2
    with Session(a.engine) as session:
        account = session.exec(select(TimebankAccount).where(TimebankAccount.peer == b.settings.domain)).one()
        assert account.agreed_until is not None and account.agreed_balance == 150


def test_a_lost_offer_is_received_from_the_statement_of_the_payers_node(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    bob = person(b.engine, "bob", status="volunteer")
    net = Network(two_cooperatives)
    lost = gift(a, alice, b.uri("bob"), "1")
    net.collect()
    net.in_flight.clear()  # the Offer is lost
    report = run_reconcile(b, a)  # B asks A: A's statement lists the transfer it still holds
    assert [(d.ours, d.theirs, d.repair) for d in report.differences] == [("absent", "pending", "received")]
    assert balance(b.engine, f"person:{bob.pk}") == 300
    flow(net)  # B's Accept reaches A
    assert state(a, lost.uri) == "settled"
    assert run_reconcile(a, b).agreed


TAMPERED: list[tuple[Any, str]] = [
    (lambda d: {**d, "balance": d["balance"] + 100}, "signature"),
    (lambda d: {**d, "nonce": "an-old-nonce-played-again"}, "nonce"),
    (
        lambda d: {
            **d,
            "proof": {**d["proof"], "verificationMethod": "https://bagnolet.example/users/bob#main-key"},
        },
        "another key",
    ),
    (lambda d: {**d, "attributedTo": "https://evil.example/actor"}, "not the peer's"),
    (lambda d: {k: v for k, v in d.items() if k != "proof"}, "not signed"),
]


def test_a_statement_that_cannot_be_trusted_is_refused_and_changes_nothing(
    two_cooperatives: Federation,  # noqa: F811
) -> None:
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    person(b.engine, "bob", status="volunteer")
    net = Network(two_cooperatives)
    lost = gift(a, alice, b.uri("bob"), "1")
    flow(net, drop_answers_to=a)
    for tamper, message in TAMPERED:
        with pytest.raises(reconcile.StatementRefused, match=message):
            run_reconcile(a, b, tamper=tamper)
        assert state(a, lost.uri) == "pending", message
    assert run_reconcile(a, b).differences[0].repair == "applied"  # the true statement is taken


def test_transfers_applied_nowhere_are_no_difference(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    net = Network(two_cooperatives)
    refused = gift(a, alice, b.uri("nobody"), "1")  # refused for good, stored as refused on both
    flow(net)
    with db.session_scope(b.engine) as session:  # as if B had not kept its refusal (an invalid amount)
        session.delete(session.exec(select(Transfer).where(Transfer.uri == refused.uri)).one())
    report = run_reconcile(a, b)
    assert report.differences == [] and report.agreed and report.mirrored


def test_a_settlement_recorded_on_both_nodes_nets_the_clearing_and_still_reconciles(
    two_cooperatives: Federation,  # noqa: F811
) -> None:
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    person(b.engine, "bob", status="volunteer")
    gift(a, alice, b.uri("bob"), "2")
    flow(Network(two_cooperatives))
    for node, peer in ((a, b), (b, a)):
        with db.session_scope(node.engine) as session:
            with pytest.raises(ValidationFailed):  # never past zero
                settlement.settle(session, node.settings, peer.settings.domain, "3", "2026-Q1")
        with db.session_scope(node.engine) as session:
            made = settlement.settle(session, node.settings, peer.settings.domain, "1.5", "2026-Q1")
            assert made.uri == "urn:asasap:settlement:bagnolet.example:montreuil.example:2026-Q1"
        with db.session_scope(node.engine) as session, pytest.raises(Conflict):
            settlement.settle(session, node.settings, peer.settings.domain, "0.5", "2026-Q1")
    assert balance(a.engine, f"clearing:{b.settings.domain}") == 50
    assert balance(b.engine, f"clearing:{a.settings.domain}") == -50
    assert balance(a.engine, "community") == -200 + 150  # alice's starting credit, and the settlement
    report = run_reconcile(a, b)
    assert report.differences == [] and report.mirrored and report.agreed


def test_a_peer_that_states_version_1_digests_is_still_reconciled(two_cooperatives: Federation) -> None:  # noqa: F811
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    person(b.engine, "bob", status="volunteer")
    net = Network(two_cooperatives)
    gift(a, alice, b.uri("bob"), "1")
    flow(net)
    lost = gift(a, alice, b.uri("bob"), "0.5")
    flow(net, drop_answers_to=a)
    old = serve_statement(b, f"https://{b.settings.domain}/x?nonce=abcdefgh&buckets=00", a.settings.domain)
    assert "digestVersion" not in old and all(":" not in d for d in old["digests"].values())
    report = run_reconcile(a, b, version=1)  # B of an earlier version: no digestVersion
    assert [(d.transfer, d.repair) for d in report.differences] == [(lost.uri, "applied")]
    assert report.agreed and report.compared == 2
    assert run_reconcile(a, b).agreed  # and in version 2


def test_digests_are_kept_as_transfers_settle_and_built_once_for_an_older_account(
    two_cooperatives: Federation,  # noqa: F811
) -> None:
    a, b = two_cooperatives.nodes
    alice = person(a.engine, "alice", status="volunteer")
    person(b.engine, "bob", status="volunteer")
    net = Network(two_cooperatives)
    for amount in ("1", "0.25", "2"):
        gift(a, alice, b.uri("bob"), amount)
    flow(net)
    url = f"https://{a.settings.domain}/x?nonce=abcdefgh&digests=2"
    ours, theirs = (serve_statement(node, url, peer.settings.domain) for node, peer in ((a, b), (b, a)))
    assert ours["digestVersion"] == 2 and ours["transferCount"] == 3
    assert ours["digests"] == theirs["digests"]  # the same on both nodes
    with db.session_scope(a.engine) as session:  # as a clearing account opened before they were kept
        session.execute(delete(ClearingDigest))
        session.execute(update(TimebankAccount).values(digests_ready=False))
    assert serve_statement(a, url, b.settings.domain)["digests"] == ours["digests"]  # computed
    with db.session_scope(a.engine, write=True) as session:
        assert statements.build_missing(session, a.settings) == 1
    with db.session_scope(a.engine, write=True) as session:
        assert statements.build_missing(session, a.settings) == 0
        assert digests.stored(session, b.settings.domain) == ours["digests"]
    assert run_reconcile(a, b).agreed
