"""A transfer between two real cooperative nodes survives ``kill -9`` of either node at each step, and a
network that loses, repeats or holds its messages (a loopback proxy in front of each node): in the end it
is applied exactly once on both sides and the clearing balances mirror each other.

The nodes run ``asasap serve`` without their embedded worker, and the test runs ``asasap worker --once``
for the node whose turn it is, so that every step happens when the test says: a step either committed
or left nothing (each is one transaction), and the processes killed are the real ones. Node A runs on
SQLite, node B on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from node.core.timeutil import utcnow
from tests.support.databases import DatabaseFactory
from tests.support.nodes import Node, NodeProcess, free_port
from tests.support.proxy import Proxy, running_proxy

pytestmark = pytest.mark.process

SETTINGS = {
    "ASASAP_MODE": "cooperative",
    "ASASAP_TIMEBANK_RETRY_SECONDS": "1",
    "ASASAP_EMBEDDED_WORKER": "false",
}


@dataclass
class ProxiedProcess(NodeProcess):
    """A node whose public address is its proxy's; it listens on ``listen_port``."""

    listen_port: int = field(default_factory=free_port)

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve", "--port", str(self.listen_port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@dataclass
class Side:
    node: Node
    proxy: Proxy

    @property
    def process(self) -> NodeProcess:
        return self.node.process

    def restart_after_kill(self) -> None:
        self.process.kill()
        self.process.start(timeout=60)

    def work(self) -> dict[str, Any]:
        """One ``asasap worker --once``: whatever is due now, as this node's worker does it."""
        done = self.process.cli("worker", "--once", "--json")
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def execute(self, statement: str, **params: Any) -> None:
        engine = create_engine(self.process.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.begin() as connection:
                connection.execute(text(statement), params)
        finally:
            engine.dispose()

    def make_due(self) -> None:
        """Time passes: retries and expired leases are due now (what a dead worker held included)."""
        past = utcnow() - timedelta(seconds=1)
        self.execute(
            "UPDATE deliveries SET next_attempt_at = :t, lease_until = :t"
            " WHERE state IN ('pending', 'sending')",
            t=past,
        )
        self.execute(
            "UPDATE inbox SET next_attempt_at = :t, lease_until = :t"
            " WHERE state IN ('pending', 'processing')",
            t=past,
        )
        self.execute(
            "UPDATE timebank_transfers SET next_attempt_at = :t WHERE next_attempt_at IS NOT NULL", t=past
        )

    def transfer(self, uri: str) -> tuple[str, int] | None:
        rows = self.node.sql(
            "SELECT t.state, (SELECT count(*) FROM timebank_entries e WHERE e.transfer_id = t.id) "
            "FROM timebank_transfers t WHERE t.uri = :u",
            u=uri,
        )
        return (rows[0][0], int(rows[0][1])) if rows else None

    def clearing(self, peer: str) -> int:
        rows = self.node.sql("SELECT balance FROM timebank_accounts WHERE peer = :p", p=peer)
        return int(rows[0][0]) if rows else 0


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[tuple[Side, Side]]:
    root: Path = tmp_path_factory.mktemp("faults")
    with ExitStack() as stack:
        sides = []
        for name, backend in (("a", "sqlite"), ("b", "postgresql")):
            factory = database_factories.get(backend, database_factories["sqlite"])
            url = factory.create()
            stack.callback(factory.drop, url)
            listen = free_port()
            proxy = stack.enter_context(running_proxy(listen))
            process = ProxiedProcess(
                root / name, url, port=proxy.port, extra_env=dict(SETTINGS), listen_port=listen
            )
            stack.callback(process.stop)
            process.init()
            process.start(timeout=60)
            sides.append(Side(Node(process), proxy))
        yield sides[0], sides[1]


def test_kill_9_and_a_faulty_network_at_every_step_leave_one_transfer_on_each_side(
    pair: tuple[Side, Side],
) -> None:
    a, b = pair
    a.node.add_person("alice")
    b.node.add_person("bob")
    bob = b.node.uri("bob")

    # 1. The gift is recorded on A (held, its Offer queued); A is killed before anything is sent.
    gift = a.node.ok(
        "POST", "/timebank/gifts", {"recipient": bob, "amount": "1.25", "confirm": True}, user="alice"
    )
    uri = gift["uri"]
    assert gift["state"] == "pending"
    a.restart_after_kill()
    assert a.transfer(uri) == ("pending", 0)

    # 2. A sends the Offer; the network loses it (A believes it delivered).
    b.proxy.plan("lose")
    a.work()
    assert b.transfer(uri) is None

    # 3. A offers again (a new activity, the same transfer); B stores it and answers 202, but the
    #    answer is held while A's worker is killed mid-delivery: A will send that activity again.
    a.make_due()
    b.proxy.plan("hold")
    worker = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "worker"],
        env=a.process.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert b.proxy.holding.wait(120), "the offer never reached B"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        b.proxy.holding.clear()
        b.proxy.release()

    # 4. B is killed with the Offer stored but not processed; restarted, it processes it once, even
    #    though A sends the same activity again and the network repeats it.
    b.restart_after_kill()
    a.make_due()
    b.proxy.plan("repeat")
    a.work()
    a.proxy.plan("drop")  # B's Accept is refused by the network: B retries it later
    b.work()
    assert b.transfer(uri) == ("settled", 2)
    assert a.transfer(uri) == ("pending", 0)

    # 5. A is killed; B's Accept arrives (twice: the network repeats it) at the restarted A, which is
    #    killed again before processing it; restarted, A applies its half once.
    a.restart_after_kill()
    b.make_due()
    a.proxy.plan("repeat")
    b.work()
    a.restart_after_kill()
    a.make_due()
    a.work()
    assert a.transfer(uri) == ("settled", 2)

    # Every copy afterwards changes nothing: A offers nothing more, B answers any late copy the same.
    time.sleep(1.1)
    a.make_due()
    a.work()
    b.work()
    assert a.transfer(uri) == ("settled", 2) and b.transfer(uri) == ("settled", 2)
    assert a.clearing(b.node.domain) == 125 and b.clearing(a.node.domain) == -125
    for side in (a, b):
        assert side.node.cli_json("timebank", "verify")["ok"] is True
    report = a.node.cli_json("timebank", "reconcile", b.node.url)
    assert report["differences"] == [] and report["mirrored"] is True
    assert {what for _, what in b.proxy.seen} >= {"lose", "hold", "repeat"}
