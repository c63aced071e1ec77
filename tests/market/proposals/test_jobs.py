"""Background jobs of proposals: expiry, and learning servers' software from their NodeInfo (served by
real HTTP servers on loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from node.activitypub.actors.remote import RemoteActors
from node.activitypub.models import OutboxActivity, Peer
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.market.jobs import MarketJob
from node.market.models import PendingPublication, Proposal
from node.market.proposals import notes as proposal_notes
from node.market.proposals import publishing
from node.market.proposals import service as proposals
from node.market.proposals.jobs import PeerSoftwareJob
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import (
    InboxSink,
    add_follower,
    add_remote_actor,
    local_person,
    running_sink,
)

SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"


@pytest.fixture
def mastodon() -> Iterator[InboxSink]:
    with running_sink() as sink:
        sink.documents["/.well-known/nodeinfo"] = {
            "links": [{"rel": SCHEMA + "2.0", "href": sink.url("/nodeinfo/2.0")}]
        }
        sink.documents["/nodeinfo/2.0"] = {
            "version": "2.0",
            "software": {"name": "Mastodon", "version": "4.3.1"},
        }
        yield sink


@pytest.fixture
def silent() -> Iterator[InboxSink]:
    with running_sink() as sink:  # answers 404 to every GET
        yield sink


@pytest.fixture
def loopback(settings: Settings) -> Settings:
    return settings.replace(allow_private_addresses=True, fetch_timeout_seconds=3)


def peers(engine: Engine) -> dict[str, Peer]:
    with Session(engine) as session:
        return {p.domain: p for p in session.exec(select(Peer)).all()}


def test_the_expiry_job(settings: Settings, engine: Engine) -> None:
    author = make_user(engine, "alice")
    data = proposals.ProposalInput(
        purpose="request",
        title="Courses du mardi",
        category="grocery-delivery",
        postal_code="93100",
        commune_name="Montreuil",
    )
    with session_scope(engine) as session:
        row = proposals.create(settings, author, data, session=session)
    with session_scope(engine) as session:
        session.execute(
            update(Proposal)
            .where(col(Proposal.id) == row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    job = MarketJob(settings, engine, interval=3600)

    async def twice() -> tuple[int, int]:
        return await job.run_once(), await job.run_once()

    assert asyncio.run(twice()) == (1, 0)  # the second pass waits for the interval
    with Session(engine) as session:
        stored = session.get(Proposal, row.id)
        assert stored is not None and stored.state == "expired"


def test_a_proposal_waits_until_its_audience_is_known(
    loopback: Settings, engine: Engine, mastodon: InboxSink, silent: InboxSink
) -> None:
    """Publishing never waits on a remote server: the proposal of someone whose followers' servers are
    not known yet waits, the job learns their software from NodeInfo, then publishes it to each in the
    shape it reads."""
    author = make_user(engine, "alice")
    alice = local_person(loopback, engine, "alice")
    for sink in (mastodon, silent):
        add_follower(engine, alice, add_remote_actor(engine, sink.url(""), "claire").uri)
    data = proposals.ProposalInput(
        purpose="request",
        title="Courses du mardi",
        category="grocery-delivery",
        postal_code="93100",
        commune_name="Montreuil",
    )
    with session_scope(engine) as session:
        proposals.create(loopback, author, data, session=session)
    with Session(engine) as session:
        assert session.exec(select(OutboxActivity)).all() == []  # nothing sent while the audience is unknown
        assert len(session.exec(select(PendingPublication)).all()) == 1

    async def run() -> int:
        remote = RemoteActors(loopback, engine)
        try:
            return await PeerSoftwareJob(loopback, engine, remote, timeout=5).run_once()
        finally:
            await remote.aclose()

    assert asyncio.run(run()) == 2 + 1  # two servers asked, one change published
    found = peers(engine)
    assert (found[mastodon.domain].software, found[mastodon.domain].version) == ("mastodon", "4.3.1")
    assert found[silent.domain].software == "" and found[silent.domain].nodeinfo_fetched_at is not None
    assert asyncio.run(run()) == 0  # known, or asked less than a day ago; nothing left to publish
    with Session(engine) as session:
        audience = proposal_notes.audience(loopback, alice, session=session)
        sent = {
            row.type + ":" + json.loads(row.payload)["object"]["type"]
            for row in session.exec(select(OutboxActivity))
        }
        assert session.exec(select(PendingPublication)).all() == []
    assert [uri.split("/users")[0] for uri in audience.note_actors] == [mastodon.url(""), silent.url("")]
    assert audience.proposal_actors == [silent.url("/users/claire")]
    assert sent == {"Create:Proposal", "Create:Note"}


def test_a_waiting_change_goes_out_after_the_longest_wait(loopback: Settings, engine: Engine) -> None:
    author = make_user(engine, "alice")
    alice = local_person(loopback, engine, "alice")
    add_follower(engine, alice, add_remote_actor(engine, "http://127.0.0.1:9", "nobody").uri)
    data = proposals.ProposalInput(
        purpose="request",
        title="Courses du mardi",
        category="grocery-delivery",
        postal_code="93100",
        commune_name="Montreuil",
    )
    with session_scope(engine) as session:
        row = proposals.create(loopback, author, data, session=session)
        proposals.withdraw(loopback, author, row, session=session)
    with session_scope(engine) as session:
        assert publishing.publish_due(loopback, session=session) == 0  # still waiting for the server
        later = utcnow() + publishing.MAX_WAIT + timedelta(seconds=1)
        assert publishing.publish_due(loopback, session=session, now=later) == 2
    with Session(engine) as session:
        kinds = [o.type for o in session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id)))]
    assert kinds == ["Create", "Create", "Delete", "Delete"]  # in order, the Proposal and the Note each


def test_the_peer_software_job(loopback: Settings, engine: Engine, mastodon: InboxSink) -> None:
    add_remote_actor(engine, mastodon.url(""), "claire")
    with session_scope(engine, write=True) as session:
        session.add(Peer(domain=mastodon.domain))
        session.add(Peer(domain="known.example", software="asasap"))

    async def run() -> int:
        remote = RemoteActors(loopback, engine)
        try:
            return await PeerSoftwareJob(loopback, engine, remote, timeout=5).run_once()
        finally:
            await remote.aclose()

    assert asyncio.run(run()) == 1
    assert peers(engine)[mastodon.domain].software == "mastodon"
    assert asyncio.run(run()) == 0
