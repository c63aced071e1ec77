"""Durability of deliveries: a worker process killed with SIGKILL while deliveries are in flight loses
none of them; a new worker sends everything, each activity at least once to each inbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import col

from node.activitypub.models import Delivery
from node.activitypub.outbox.admin import count_by_state
from node.core.db import session_scope
from node.core.timeutil import utcnow
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import (
    InboxSink,
    Reply,
    add_follower,
    add_remote_actor,
    local_person,
    publish_note,
    running_sink,
)
from tests.support.settings import node_environment

pytestmark = pytest.mark.process

FOLLOWERS = 20
NOTES = 5


@pytest.fixture
def sink() -> Iterator[InboxSink]:
    with running_sink() as server:
        yield server


def test_kill_9_mid_delivery_loses_nothing(
    tmp_path: Path, database_url: str, settings: Settings, engine: Engine, sink: InboxSink
) -> None:
    make_user(engine, "alice")
    alice = local_person(settings, engine, "alice")
    paths = [f"/s{index}/users/f/inbox" for index in range(FOLLOWERS)]
    for index, path in enumerate(paths):
        add_follower(engine, alice, add_remote_actor(engine, sink.url(f"/s{index}"), "f", shared=False).uri)
        sink.answer(path, Reply(202, delay=0.5))
    published = {
        publish_note(settings, engine, alice, f"note {n}", to_followers=True).activity_id
        for n in range(NOTES)
    }
    env = node_environment(
        tmp_path / "node", database_url, settings.base_url, {"ASASAP_DELIVERY_CONCURRENCY": "4"}
    )
    with (tmp_path / "worker.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            sink.wait_for(lambda: len(sink.posts()) >= 6)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    with session_scope(engine) as session:
        states = count_by_state(session=session)
    assert states["sending"] > 0, states  # claimed, in flight, and the worker gone
    assert states["delivered"] + states["sending"] + states["pending"] == FOLLOWERS * NOTES

    # Time passes: the dead worker's leases run out.
    with session_scope(engine, write=True) as session:
        session.execute(
            update(Delivery)
            .where(col(Delivery.state) == "sending")
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    for path in paths:
        sink.answer(path, Reply(202))
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", "worker", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deliveries"]["delivered"] == FOLLOWERS * NOTES

    received = {(post.path, post.activity_id) for post in sink.posts()}
    assert received == {(path, activity_id) for path in paths for activity_id in published}
    assert {post.activity_id for post in sink.posts()} == published
    assert len(sink.posts()) >= FOLLOWERS * NOTES
