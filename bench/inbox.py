"""Inbox benchmark: verified activities accepted per second by a real node, against a ceiling.

Two servers get the same pre-signed requests from the same load generator, one after the other:

- the ceiling: a bare ASGI endpoint on the node's server stack (uvicorn, uvloop, httptools) that
  only checks the SHA-256 digest, verifies the RSA signature with keys it already holds, and
  inserts one row with SQLAlchemy Core into the same ``inbox`` table;
- the node: ``asasap serve``, verifying everything its inbox verifies. Its keys come from a local
  actor server, fetched on the first request of each key and cached after that.

Both servers run on 127.0.0.1, one process each; the figure is the ratio of the two rates.
Requests are signed before the run (Mastodon's draft-cavage signature, Date within the window)
so that the load generator's own signing is not measured.

    .venv/bin/python bench/inbox.py [--requests 10000] [--rounds 3] [--actors 50] [--concurrency 32]

The servers take turns (ceiling, node, ceiling, node...) on the same signed requests, the table
emptied between runs; the rates are the medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SECRET = "bench-secret-key-that-is-long-enough-for-hmac-0123456789"
AS_TYPE = "application/activity+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- remote actors ---------------------------------------------------------------------------------


@dataclass
class Actor:
    name: str
    base: str
    pem: str  # private key, PKCS#8

    @property
    def uri(self) -> str:
        return f"{self.base}/users/{self.name}"

    def public_pem(self) -> str:
        key = serialization.load_pem_private_key(self.pem.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "inbox": self.uri + "/inbox",
            "endpoints": {"sharedInbox": self.base + "/inbox"},
            "publicKey": {"id": self.uri + "#main-key", "owner": self.uri, "publicKeyPem": self.public_pem()},
        }


def new_actor(args: tuple[str, str]) -> Actor:
    name, base = args
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Actor(name, base, pem)


class ActorServer:
    """Serves the actors' documents from a thread, counting requests per path."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.documents: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.hits[self.path] += 1
                body = owner.documents.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", AS_TYPE)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ActorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- pre-signed requests ---------------------------------------------------------------------------


def create_activity(actor: Actor) -> dict[str, Any]:
    """A Create of a Note shaped like the ones Mastodon sends."""
    activity_id = f"{actor.uri}/statuses/{uuid.uuid4().int >> 64}/activity"
    note_id = activity_id.rsplit("/", 1)[0]
    return {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"ostatus": "http://ostatus.org#", "atomUri": "ostatus:atomUri", "sensitive": "as:sensitive"},
        ],
        "id": activity_id,
        "type": "Create",
        "actor": actor.uri,
        "published": "2026-01-01T10:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [actor.uri + "/followers"],
        "object": {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": None,
            "published": "2026-01-01T10:00:00Z",
            "url": note_id,
            "attributedTo": actor.uri,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [actor.uri + "/followers"],
            "sensitive": False,
            "atomUri": note_id,
            "content": "<p>Je propose du repassage à Montreuil en semaine, le soir, 18 €/h.</p>",
            "contentMap": {"fr": "<p>Je propose du repassage à Montreuil en semaine, le soir, 18 €/h.</p>"},
            "attachment": [],
            "tag": [{"type": "Hashtag", "href": actor.base + "/tags/repassage", "name": "#repassage"}],
            "replies": {"id": note_id + "/replies", "type": "Collection"},
        },
    }


def sign_batch(job: tuple[list[Actor], int, str, str]) -> list[bytes]:
    """``count`` raw HTTP requests, round robin over ``actors``, signed for ``host`` and ``path``."""
    from node.activitypub.signatures import load_private_key_pem, sign_cavage

    actors, count, host, path = job
    keys = {actor.name: load_private_key_pem(actor.pem) for actor in actors}
    requests = []
    for index in range(count):
        actor = actors[index % len(actors)]
        body = json.dumps(create_activity(actor)).encode()
        headers = {"Host": host, "Content-Type": AS_TYPE}
        headers.update(
            sign_cavage(
                "POST",
                f"http://{host}{path}",
                headers,
                body,
                key_id=actor.uri + "#main-key",
                private_key=keys[actor.name],
            )
        )
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        requests.append((head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    return requests


def presign(actors: list[Actor], count: int, host: str, path: str, processes: int) -> list[bytes]:
    share = -(-count // processes)
    jobs = [
        (actors, min(share, count - i * share), host, path) for i in range(processes) if count > i * share
    ]
    with ProcessPoolExecutor(processes) as pool:
        return [request for batch in pool.map(sign_batch, jobs) for request in batch]


# --- the load generator ----------------------------------------------------------------------------


@dataclass
class Load:
    requests: list[bytes]
    deadline: float
    next: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    finished_at: float = 0.0


class Connection(asyncio.Protocol):
    """One keep-alive connection sending requests one after the other (no pipelining)."""

    def __init__(self, load: Load, done: asyncio.Future[None]) -> None:
        self.load = load
        self.done = done
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        self.send_next()

    def send_next(self) -> None:
        load = self.load
        if load.next >= len(load.requests) or time.perf_counter() > load.deadline:
            assert self.transport is not None
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
            return
        request = load.requests[load.next]
        load.next += 1
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            match = re.search(r"(?im)^content-length:\s*(\d+)", head)
            length = int(match.group(1)) if match else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.load.statuses[int(head.split(" ", 2)[1])] += 1
            self.buffer = self.buffer[end + 4 + length :]
            self.send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def drive(port: int, requests: list[bytes], concurrency: int, max_seconds: float) -> tuple[float, Load]:
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    load = Load(requests, deadline=start + max_seconds)
    waits = []
    for _ in range(concurrency):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(functools.partial(Connection, load, done), "127.0.0.1", port)
        waits.append(done)
    try:
        await asyncio.wait_for(asyncio.gather(*waits), max_seconds + 30)
    except TimeoutError:
        print("the load generator gave up waiting for answers", file=sys.stderr)
    elapsed = time.perf_counter() - start
    return sum(load.statuses.values()) / elapsed, load


def run_load(port: int, requests: list[bytes], concurrency: int, max_seconds: float) -> tuple[float, Load]:
    try:
        import uvloop

        runner: Callable[[Any], tuple[float, Load]] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency of uvicorn[standard]
        runner = asyncio.run
    return runner(drive(port, requests, concurrency, max_seconds))


# --- the ceiling server ----------------------------------------------------------------------------

_SIGNATURE = re.compile(r'(\w+)="([^"]*)"')


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI request."""
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def reply(send: Any, status: int, body: bytes = b"") -> None:
    """An ASGI response: ``status``, and ``body`` as JSON when there is one."""
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_asgi(app: Any, port: int) -> None:
    """Serve a ceiling's bare ASGI app on the node's server stack (uvicorn, uvloop, httptools)."""
    import uvicorn

    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning", lifespan="off"
    )


def ceiling_app(database_url: str, keys_file: str) -> Any:
    """Digest check, RSA verification, one INSERT with SQLAlchemy Core; nothing else."""
    from sqlalchemy import insert

    from node.activitypub.models import InboxActivity
    from node.core.db import make_engine
    from node.core.timeutil import utcnow

    engine = make_engine(database_url)
    keys: dict[str, rsa.RSAPublicKey] = {}
    for key_id, pem in json.loads(Path(keys_file).read_text()).items():
        key = serialization.load_pem_public_key(pem.encode())
        assert isinstance(key, rsa.RSAPublicKey)
        keys[key_id] = key
    statement = insert(InboxActivity.__table__)  # type: ignore[attr-defined]  # built once, compiled once

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("digest") != digest:
            return await reply(send, 401)
        params = dict(_SIGNATURE.findall(headers.get("signature", "")))
        lines = []
        for name in params.get("headers", "").split():
            value = f"post {scope['path']}" if name == "(request-target)" else headers.get(name, "")
            lines.append(f"{name}: {value}")
        key = keys.get(params.get("keyId", ""))
        try:
            key.verify(  # type: ignore[union-attr]
                base64.b64decode(params["signature"]),
                "\n".join(lines).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:  # noqa: BLE001 - any failure is a refusal
            return await reply(send, 401)
        now = utcnow()
        row = {
            "activity_id": digest,
            "actor_uri": params["keyId"],
            "type": "Create",
            "payload": body.decode(),
            "key_id": params["keyId"],
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
            "error": "",
        }
        with engine.begin() as connection:
            connection.execute(statement, row)
        await reply(send, 202)

    return app


def serve_ceiling(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--keys", required=True)
    args = parser.parse_args(argv)
    serve_asgi(ceiling_app(args.database_url, args.keys), args.port)


# --- orchestration ---------------------------------------------------------------------------------


def node_env(workdir: Path, database_url: str, port: int, secret: str) -> dict[str, str]:
    """The environment of a node served on ``port`` for a benchmark (no embedded worker, quiet logs)."""
    return {
        **os.environ,
        "ASASAP_DATA_DIR": str(workdir / "data"),
        "ASASAP_DATABASE_URL": database_url,
        "ASASAP_BASE_URL": f"http://127.0.0.1:{port}",
        "ASASAP_SECRET_KEY": secret,
        "ASASAP_EMBEDDED_WORKER": "false",
        "ASASAP_LOG_LEVEL": "warning",
    }


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)


def count_rows(database_url: str, *, clear: bool = False) -> int:
    from sqlalchemy import func, select

    from node.activitypub.models import InboxActivity
    from node.core.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            table = InboxActivity.__table__  # type: ignore[attr-defined]
            rows = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            if clear:
                connection.execute(table.delete())
            return rows
    finally:
        engine.dispose()


def measure(port: int, requests: list[bytes], args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    """One measured run against the server on ``port``; the table is emptied afterwards."""
    rate, load = run_load(port, requests, args.concurrency, args.max_seconds)
    stored = count_rows(database_url, clear=True)
    return {"per_second": round(rate), "statuses": dict(load.statuses), "rows_stored": stored}


def main() -> int:
    if sys.argv[1:2] == ["ceiling"]:
        serve_ceiling(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000, help="signed activities per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs on each server")
    parser.add_argument("--actors", type=int, default=50, help="remote actors (one key each)")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--max-seconds", type=float, default=60, help="time limit of each measured run")
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="asasap-bench-inbox-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    node_port, ceiling_port, actor_port = free_port(), free_port(), free_port()
    actor_base = f"http://127.0.0.1:{actor_port}"
    env = {**node_env(workdir, database_url, node_port, SECRET), "ASASAP_ALLOW_PRIVATE_ADDRESSES": "true"}
    cli = [sys.executable, "-m", "node.cli"]
    subprocess.run([*cli, "init", "--json"], env=env, check=True, capture_output=True, timeout=120)

    processes = min(4, os.cpu_count() or 1)
    with ProcessPoolExecutor(processes) as pool:
        actors = list(pool.map(new_actor, [(f"actor{i}", actor_base) for i in range(args.actors)]))
    keys_file = workdir / "keys.json"
    keys_file.write_text(json.dumps({a.uri + "#main-key": a.public_pem() for a in actors}))
    host = f"127.0.0.1:{node_port}"
    started = time.perf_counter()
    # The same signed requests go to both servers in every round: the table is emptied in between.
    warmup = presign(actors, 200, host, "/inbox", processes)
    requests = presign(actors, args.requests, host, "/inbox", processes)
    signing_seconds = time.perf_counter() - started

    ceiling_command = [sys.executable, __file__, "ceiling", "--port", str(ceiling_port)]
    ceiling_command += ["--database-url", database_url, "--keys", str(keys_file)]
    rounds: list[dict[str, Any]] = []
    with ActorServer(actor_port) as actor_server:
        for actor in actors:
            actor_server.documents[f"/users/{actor.name}"] = json.dumps(actor.document()).encode()
        ceiling = subprocess.Popen(ceiling_command, env=env, start_new_session=True)
        node = subprocess.Popen([*cli, "serve", "--port", str(node_port)], env=env, start_new_session=True)
        try:
            wait_ready(f"http://127.0.0.1:{ceiling_port}/", ceiling)
            wait_ready(f"http://127.0.0.1:{node_port}/api/v1/node", node)
            for port in (ceiling_port, node_port):  # the node fetches each actor's key here
                run_load(port, warmup, args.concurrency, args.max_seconds)
                count_rows(database_url, clear=True)
            for _ in range(args.rounds):
                rounds.append(
                    {
                        "ceiling": measure(ceiling_port, requests, args, database_url),
                        "node": measure(node_port, requests, args, database_url),
                    }
                )
        finally:
            stop(ceiling)
            stop(node)
        key_fetches = sum(actor_server.hits.values())

    ceiling_rate = statistics.median(r["ceiling"]["per_second"] for r in rounds)
    node_rate = statistics.median(r["node"]["per_second"] for r in rounds)
    result: dict[str, Any] = {
        "requests_per_run": args.requests,
        "actors": args.actors,
        "concurrency": args.concurrency,
        "database": database_url.split(":", 1)[0],
        "ceiling_per_second": ceiling_rate,
        "node_per_second": node_rate,
        "ratio": round(node_rate / ceiling_rate, 2),
        "rounds": rounds,
        "key_fetches": key_fetches,
        "signing_seconds": round(signing_seconds, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for number, run in enumerate(rounds, 1):
        print(
            f"round {number}: ceiling {run['ceiling']['per_second']:>6}/s {run['ceiling']['statuses']}, "
            f"node {run['node']['per_second']:>6}/s {run['node']['statuses']}, "
            f"{run['node']['rows_stored']} rows stored"
        )
    print(f"ceiling (digest + RSA verify + one INSERT, median): {ceiling_rate:>6.0f}/s")
    print(f"node (asasap serve, full inbox, median):           {node_rate:>6.0f}/s")
    print(f"ratio: {result['ratio']}  (goal: at least 0.5); {key_fetches} key fetches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
