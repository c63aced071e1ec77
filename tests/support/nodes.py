"""Real nodes on loopback, the one harness of the tests that start ``asasap`` processes.

:class:`NodeProcess` is one node's settings (as environment variables) and its ``asasap serve``
process; :class:`Node` is a running node spoken to as its people and its administrator do (the API with
each person's token, the command line, and its database read directly); :func:`running_nodes` starts
several at once on fresh databases and stops them; :func:`wait_until` waits for federation to happen.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from node.accounts import credentials, service
from node.core import db
from tests.support.accounts import PASSWORD
from tests.support.databases import DatabaseFactory
from tests.support.settings import node_environment

AS = {"Accept": "application/activity+json"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``check`` until it holds; fail saying ``what`` did not happen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.2)


@dataclass
class NodeProcess:
    """One node: its settings as environment variables, and the server process once started."""

    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return node_environment(
            self.data_dir,
            self.database_url,
            self.base_url,
            {"ASASAP_REGISTRATION": "open", **self.extra_env},
        )

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``asasap ARGS`` against this node's settings."""
        return subprocess.run(
            [sys.executable, "-m", "node.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env,
        )

    def init(self, *args: str, stdin: str | None = None) -> None:
        """``asasap init ARGS``, which must succeed."""
        done = self.cli("init", *args, stdin=stdin)
        assert done.returncode == 0, done.stderr

    def launch(self) -> None:
        """Start ``asasap serve`` without waiting for it (see :meth:`wait_ready`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the server launched answers."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/api/v1/node", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"node did not answer within {timeout}s: {self.log_tail()}")

    def start(self, timeout: float = 30.0) -> None:
        """Start ``asasap serve`` and wait until it answers."""
        self.launch()
        self.wait_ready(timeout)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def kill(self) -> None:
        """Stop the node the hard way (``kill -9``), as a crash would."""
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_text(self) -> str:
        """Everything the node's server process wrote (its log, as JSON lines)."""
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Node:
    """A running node, spoken to as its people (the API, with their tokens) and its administrator
    (the command line, and the database read directly) do."""

    def __init__(self, process: NodeProcess) -> None:
        self.process = process
        self.tokens: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.process.base_url

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]

    def uri(self, username: str) -> str:
        """The ActivityPub id of a person of this node."""
        return f"{self.url}/users/{username}"

    def add_person(self, username: str) -> str:
        """Create an account and its API token (one ``asasap`` process); the token is kept for :meth:`api`."""
        created = self.process.cli("user", "create", username, "--password-stdin", "--token", stdin=PASSWORD)
        assert created.returncode == 0, created.stderr
        self.tokens[username] = created.stdout.strip()
        return self.tokens[username]

    def add_people(self, *usernames: str) -> None:
        """Accounts and API tokens made in this process, on the node's database (as ``asasap user create
        --token`` makes them, without starting one process per person)."""
        engine = db.make_engine(self.process.database_url)
        try:
            for name in usernames:
                # One write transaction (BEGIN IMMEDIATE on SQLite): it waits for the node's own writers.
                with db.session_scope(engine, write=True) as session:
                    user = service.create_user(username=name, password=PASSWORD, session=session)
                    self.tokens[name] = credentials.create_api_token(user, "tests", session=session)[1]
        finally:
            engine.dispose()

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, user: str | None = None
    ) -> httpx.Response:
        """``METHOD /api/v1PATH``, as ``user`` (with their token) or anonymously."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.request(method, self.url + "/api/v1" + path, json=body, headers=headers, timeout=30)

    def ok(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, user: str | None = None
    ) -> Any:
        """The JSON answer of :meth:`api`, which must be a success."""
        response = self.api(method, path, body, user=user)
        assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def cli_json(self, *args: str) -> Any:
        """What ``asasap ARGS --json`` prints, which must succeed."""
        result = self.process.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def log_records(self) -> list[dict[str, Any]]:
        """The node's log lines, each of which must be one JSON object (``ASASAP_LOG_FORMAT=json``)."""
        records = []
        for line in self.process.log_text().splitlines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def follow_node(self, other: Node) -> dict[str, Any]:
        """This node's actor follows ``other``'s (``asasap federation follow``)."""
        followed: dict[str, Any] = self.cli_json("federation", "follow", other.url)
        return followed

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.process.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(query), params))
        finally:
            engine.dispose()

    def collection_total(self, path: str) -> int:
        total: int = httpx.get(self.url + path, headers=AS, timeout=10).json()["totalItems"]
        return total

    def following_state(self, username: str, target: str) -> str | None:
        lines = self.ok("GET", "/follows", user=username)["following"]
        return next((line["state"] for line in lines if line["uri"] == target), None)


def _start_all(processes: Sequence[NodeProcess]) -> None:
    """Initialise and start the nodes side by side, and wait until each answers."""
    with ThreadPoolExecutor(max_workers=len(processes)) as pool:
        list(pool.map(lambda process: process.init(), processes))
    for process in processes:
        process.launch()
    for process in processes:
        process.wait_ready()


@contextmanager
def running_nodes(
    root: Path,
    factories: dict[str, DatabaseFactory],
    backends: Sequence[str],
    extra_env: dict[str, str] | None = None,
    each_env: Sequence[dict[str, str]] = (),
) -> Iterator[list[Node]]:
    """One started node per backend named (``"postgresql"`` falls back to SQLite when no server is
    configured), each on a fresh database and in its own folder under ``root``; all stopped and their
    databases dropped afterwards. ``each_env`` adds settings node by node (a market and a cooperative)."""
    with ExitStack() as cleanup:
        processes = []
        for index, backend in enumerate(backends):
            factory = factories.get(backend, factories["sqlite"])
            url = factory.create()
            cleanup.callback(factory.drop, url)
            own = each_env[index] if index < len(each_env) else {}
            process = NodeProcess(root / "abcdefgh"[index], url, extra_env={**(extra_env or {}), **own})
            cleanup.callback(process.stop)
            processes.append(process)
        _start_all(processes)
        yield [Node(process) for process in processes]


# Named ``*_fixture``, so that test modules import it and use it by name.
@pytest.fixture(name="node", scope="module")
def node_fixture(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Node]:
    """One real node (``asasap serve``) shared by the tests of a module, on the module's database."""
    process = NodeProcess(tmp_path_factory.mktemp("node"), module_database_url)
    process.init()
    process.start()
    yield Node(process)
    process.stop()
