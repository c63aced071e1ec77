"""``asasap worker`` as a real process: one pass with ``--once``, refusal of an un-migrated database,
and a graceful stop on SIGTERM that finishes the delivery in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from node.activitypub.actors.local import LocalActor
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.delivery import (
    InboxSink,
    Reply,
    deliveries,
    local_person,
    public_key,
    publish_note,
    running_sink,
    verify,
)
from tests.support.settings import node_environment


@pytest.fixture
def sink() -> Iterator[InboxSink]:
    with running_sink() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, database_url: str, settings: Settings) -> dict[str, str]:
    return node_environment(tmp_path / "node", database_url, settings.base_url)


@pytest.fixture
def alice(settings: Settings, engine: Engine) -> LocalActor:
    make_user(engine, "alice")
    return local_person(settings, engine, "alice")


def worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", "worker", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_help() -> None:
    result = worker(dict(os.environ), "--help")
    assert result.returncode == 0 and "--once" in result.stdout and "usage: asasap worker" in result.stdout


def test_once_delivers_what_is_due(
    settings: Settings, engine: Engine, env: dict[str, str], alice: LocalActor, sink: InboxSink
) -> None:
    row = publish_note(settings, engine, alice, inboxes=[sink.url("/inbox"), sink.url("/other/inbox")])
    sink.answer("/other/inbox", Reply(500))
    result = worker(env, "--once", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["handled"]["delivery"] == 2
    assert report["deliveries"]["delivered"] == 1 and report["deliveries"]["pending"] == 1
    (post,) = sink.posts("/inbox")
    verify(post, public_key(engine, alice))
    assert post.activity_id == row.activity_id
    again = worker(env, "--once")  # the retry is not due yet
    assert again.returncode == 0, again.stderr
    assert "Handled: 0 delivery" in again.stdout and "1 delivered" in again.stdout
    assert len(sink.posts()) == 2


def test_refuses_an_unmigrated_database(tmp_path: Path, env: dict[str, str]) -> None:
    result = worker({**env, "ASASAP_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}, "--once")
    assert result.returncode == 1
    assert "asasap migrate" in result.stderr


@pytest.mark.process
def test_sigterm_finishes_the_delivery_in_flight(
    settings: Settings, engine: Engine, env: dict[str, str], alice: LocalActor, sink: InboxSink
) -> None:
    sink.answer("/inbox", Reply(202, delay=1.5))
    publish_note(settings, engine, alice, inboxes=[sink.url("/inbox")])
    with subprocess.Popen(
        [sys.executable, "-m", "node.cli", "worker", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            sink.wait_for(lambda: bool(sink.posts()))
            process.send_signal(signal.SIGTERM)  # while the inbox has not answered yet
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["handled"]["delivery"] == 1
    assert [d.state for d in deliveries(engine)] == ["delivered"]
