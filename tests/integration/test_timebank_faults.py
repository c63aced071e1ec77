"""A transfer between two real cooperative nodes survives ``kill -9`` of either node at each step, and a
network that loses, repeats or holds its messages (a loopback proxy in front of each node): in the end it
is applied exactly once on both sides and the clearing balances mirror each other.

The nodes run ``asasap serve`` without their embedded worker; the test does what ``asasap worker --once``
does for the node whose turn it is, or runs ``asasap worker`` and kills it, so that every step happens
when the test says: a step either committed or left nothing (each is one transaction), and the processes
killed are the real ones. Node A runs on SQLite, node B on PostgreSQL when ``ASASAP_TEST_DATABASE_URL``
is set (as in CI)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from node.core import db
from node.core.timeutil import utcnow
from node.settings import load_settings
from node.worker import node_worker
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

    def kill_worker_when(self, event: threading.Event) -> None:
        """Run this node's ``asasap worker`` until ``event`` (a proxy holding what it sent); kill -9 it."""
        worker = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "worker"],
            env=self.process.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert event.wait(120), "the worker never sent what was expected"
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)

    def work(self) -> None:
        """Whatever is due now, as ``asasap worker --once`` does it for this node, run in the test's
        process: it is never killed (the workers killed are real processes), and a process each time
        would only add start-up time."""

        async def once() -> None:
            worker = node_worker(settings, engine)
            try:
                while await worker.run_once():
                    pass
            finally:
                await worker.aclose()

        settings = load_settings(env=self.process.env)
        engine = db.make_engine(settings.effective_database_url)
        try:
            asyncio.run(once())
        finally:
            engine.dispose()

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
            sides.append(Side(Node(process), proxy))
        with ThreadPoolExecutor(max_workers=2) as pool:  # the two nodes made and started side by side
            list(pool.map(lambda side: side.process.init(), sides))
            list(pool.map(lambda side: side.process.start(timeout=60), sides))
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
    try:
        a.kill_worker_when(b.proxy.holding)
    finally:
        b.proxy.holding.clear()
        b.proxy.release()

    # 4. B is killed with the Offer stored but not processed; restarted, it processes it once, even
    #    though A sends the same activity again and the network repeats it.
    b.restart_after_kill()
    a.make_due()
    b.proxy.plan("repeat")
    a.work()

    # 5. B applies the transfer, then is killed (its worker, then the whole node) before its Accept
    #    reaches A: the Accept was queued in the transaction that applied the transfer, and is sent
    #    once B is back; the transfer is not applied twice.
    a.proxy.plan("stall")
    try:
        b.kill_worker_when(a.proxy.holding)
    finally:
        a.proxy.holding.clear()
        a.proxy.release()
    assert b.transfer(uri) == ("settled", 2)
    assert a.transfer(uri) == ("pending", 0)
    b.restart_after_kill()
    assert b.transfer(uri) == ("settled", 2)

    # 6. A is killed; B's Accept arrives (twice: the network repeats it) at the restarted A, which is
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
    with ThreadPoolExecutor(max_workers=3) as pool:
        verified = pool.map(lambda side: side.node.cli_json("timebank", "verify")["ok"], (a, b))
        reconciled = pool.submit(a.node.cli_json, "timebank", "reconcile", b.node.url)
        assert list(verified) == [True, True]
        report = reconciled.result()
    assert report["differences"] == [] and report["mirrored"] is True
    assert {what for _, what in b.proxy.seen} >= {"lose", "hold", "repeat"}
    assert {what for _, what in a.proxy.seen} >= {"stall", "repeat"}
