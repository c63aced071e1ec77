"""A node scaled out on PostgreSQL: two ``asasap serve`` processes behind the same database receive
incoming follows (half each), two ``asasap worker`` processes deliver 300 activities to a slow inbox and
process the follows, and one worker is killed with -9 half-way. The other is then stopped gracefully,
the dead one's leases are brought to their end (as if their time had passed) and a new worker finishes.

Every delivery is delivered and every inbox row processed, once: no activity reaches an inbox twice but
those the killed worker had claimed (sent again after its death, the receiver's deduplication by id
being the protocol's answer), and each follow is accepted by exactly one Accept."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import cast

import httpx
import pytest
from sqlalchemy import text

from node.core import db
from node.settings import load_settings
from tests.support.actors import ActorServer, RemoteTestActor, fixed_key
from tests.support.cluster import Cluster
from tests.support.databases import DatabaseFactory, backends
from tests.support.delivery import (
    Reply,
    add_follower,
    add_remote_actor,
    local_person,
    publish_note,
    running_sink,
)
from tests.support.nodes import Node, wait_until

pytestmark = pytest.mark.process

ACTIVITIES, FOLLOWERS, FOLLOWS = 30, 10, 12
LEASED = "lease_until IS NOT NULL AND state IN ('sending', 'processing')"


def test_two_web_and_two_worker_processes_with_one_killed(
    tmp_path: Path, database_factories: dict[str, DatabaseFactory]
) -> None:
    if "postgresql" not in backends():
        pytest.skip("scaling out needs PostgreSQL: set ASASAP_TEST_DATABASE_URL")
    factory = database_factories["postgresql"]
    url = factory.create()
    cluster = Cluster(tmp_path, url)
    engine = db.make_engine(url)
    with running_sink() as sink:
        try:
            cluster.start(web=2, workers=0)
            node = Node(cluster.node)
            node.add_person("amina")
            settings = load_settings(env=cluster.node.env)
            amina = local_person(settings, engine, "amina")
            for index in range(FOLLOWERS):
                follower = add_remote_actor(engine, sink.url(""), f"f{index}", shared=False)
                add_follower(engine, amina, follower.uri)
                sink.answer(f"/users/f{index}/inbox", Reply(202, delay=0.03))
            for index in range(ACTIVITIES):
                publish_note(settings, engine, amina, f"Note {index}", to_followers=True)

            # Follows arrive at both web processes, each signed for the node's public host.
            for index in range(FOLLOWS):  # people of another server, whose inboxes are the sink's
                actor = RemoteTestActor(cast(ActorServer, sink), f"r{index}", fixed_key(0))
                sink.documents[actor.path] = actor.document(endpoints={})
                body = json.dumps(actor.activity("Follow", object=node.uri("amina"))).encode()
                headers = actor.signed_headers(node.url + "/users/amina/inbox", body)
                web = cluster.web[index % 2]
                answer = httpx.post(
                    web.base_url + "/users/amina/inbox", content=body, headers=headers, timeout=30
                )
                assert answer.status_code == 202, answer.text

            expected = ACTIVITIES * FOLLOWERS + FOLLOWS  # the notes, and one Accept per follow
            first, second = cluster.start_worker(), cluster.start_worker()
            wait_until("a quarter was delivered", lambda: len(sink.posts()) >= expected // 4, timeout=120)
            assert cluster.stop_worker(first, signal.SIGKILL) == -signal.SIGKILL
            assert cluster.stop_worker(second, signal.SIGTERM) == 0  # finishes what it holds, then exits
            claimed = {
                (row.activity_id, row.inbox)
                for row in node.sql(
                    "SELECT o.activity_id, d.inbox_url AS inbox FROM deliveries d "
                    "JOIN outbox o ON o.id = d.outbox_id WHERE d.state = 'sending'"
                )
            }
            with engine.begin() as connection:  # the dead worker's leases run out
                for table in ("deliveries", "inbox"):
                    connection.execute(
                        text(f"UPDATE {table} SET lease_until = now() - interval '1 second' WHERE {LEASED}")
                    )
            cluster.start_worker()
            wait_until(
                "everything is delivered",
                lambda: (
                    node.sql("SELECT count(*) FROM deliveries WHERE state = 'delivered'")[0][0] == expected
                ),
                timeout=120,
            )
            wait_until(
                "every follow is processed",
                lambda: node.sql("SELECT count(*) FROM inbox WHERE state = 'done'")[0][0] == FOLLOWS,
            )

            assert node.sql("SELECT state, count(*) FROM deliveries GROUP BY state") == [
                ("delivered", expected)
            ]
            received = Counter((post.activity_id, sink.url(post.path)) for post in sink.posts())
            assert len(received) == expected  # every delivery arrived
            twice = {pair for pair, count in received.items() if count > 1}
            assert twice <= claimed, twice - claimed  # and twice only if the killed worker held it
            accepts = node.sql(
                "SELECT d.inbox_url, count(*) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id "
                "WHERE o.type = 'Accept' GROUP BY d.inbox_url"
            )
            assert sorted(count for _, count in accepts) == [1] * FOLLOWS
            assert node.sql(
                "SELECT count(*) FROM follows WHERE followee_uri = :u AND state = 'accepted'",
                u=node.uri("amina"),
            ) == [(FOLLOWERS + FOLLOWS,)]
        finally:
            cluster.stop()
            engine.dispose()
            factory.drop(url)
