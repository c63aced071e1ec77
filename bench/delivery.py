"""Delivery throughput: deliveries per second from a real delivery job (real signing, real HTTP, real
database) to a local inbox sink, as a ratio to the raw RSA-2048 signing rate of this machine.

    .venv/bin/python bench/delivery.py [--activities 60] [--recipients 50] [--rounds 3] [--seconds 60]

The ceiling is measured in the same run: RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second with
``cryptography`` in one process (every delivery needs one, since each inbox URL gives a different
signing string), before the first round and after each; the highest is the ceiling, so that a machine
busy with something else while it is measured cannot flatter the ratio. Rates are the medians of the
rounds.

The sink is a minimal ASGI app on uvicorn (uvloop, httptools) in another process on 127.0.0.1 that
answers 202. ``activities × recipients`` deliveries, each to a distinct inbox, are published, then
one delivery job runs until none is left, on uvloop as ``asasap worker`` runs it. SQLite always;
PostgreSQL too when ``ASASAP_TEST_DATABASE_URL`` is set (a scratch database is created and dropped).
A last row, "sign + post", shows the same POSTs through the same client without any database, to
separate transport from storage costs. Only loopback is used; every phase is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.accounts.actors import DIRECTORY
from node.activitypub import addressing

SINK_HOST = "127.0.0.1"
BODY_TEXT = "Repassage à domicile, Montreuil, en semaine après 18 h. " * 6


# --- the sink (run as a subprocess: `delivery.py --serve-sink PORT`) -------------------------------


def serve_sink(port: int) -> None:
    """Answer every POST with 202 and count them; GET /count gives the count."""
    import uvicorn

    received = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal received
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            body = str(received).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        received += 1
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(
        app,
        host=SINK_HOST,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((SINK_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_sink(deadline: float) -> Iterator[str]:
    """The base URL of a sink subprocess, stopped on exit."""
    import httpx

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve-sink", str(port)])
    base = f"http://{SINK_HOST}:{port}"
    try:
        while True:
            try:
                httpx.get(base + "/count", timeout=1.0)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sink did not start") from None
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def sink_count(base: str) -> int:
    import httpx

    return int(httpx.get(base + "/count", timeout=5.0).text)


# --- the ceiling -----------------------------------------------------------------------------------


def signing_rate(seconds: float) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second, one process, a signing string's size."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"(request-target): post /inbox\nhost: 127.0.0.1:8000\ndate: ...\ndigest: SHA-256=...\n" * 2
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 100
    return count / elapsed


# --- databases -------------------------------------------------------------------------------------


@contextmanager
def scratch_database(backend: str, workdir: Path) -> Iterator[str]:
    """A new migrated database URL for ``backend``, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from node.core import db

    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        engine = db.make_engine(url)
        db.migrate(engine)
        engine.dispose()
        yield url
        return
    admin = make_url(os.environ["ASASAP_TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    name = f"asasap_bench_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        engine.dispose()
        yield url
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


# --- one run ---------------------------------------------------------------------------------------


def prepare(url: str, sink: str, workdir: Path, activities: int, recipients: int) -> tuple[Any, Any, float]:
    """Settings, engine and the publishing time of ``activities × recipients`` deliveries."""
    from node.accounts import service
    from node.activitypub.actors import local
    from node.activitypub.models import Follow, RemoteActor
    from node.activitypub.outbox.publish import publish
    from node.core import db
    from node.settings import load_settings

    settings = load_settings(
        env={},
        data_dir=workdir,
        database_url=url,
        secret_key=secrets.token_urlsafe(48),
        base_url="http://127.0.0.1:9",
        allow_private_addresses=True,
    )
    engine = db.make_engine(settings.effective_database_url)
    with db.session_scope(engine, write=True) as session:
        user = service.create_user(username="alice", password="une phrase de passe solide", session=session)
        actor = local.person(settings, user)
        local.private_key(settings, actor, session=session)
        local.private_key(settings, local.node_actor(settings), session=session)
        for index in range(recipients):
            uri = f"{sink}/r{index}/actor"
            session.add(
                RemoteActor(uri=uri, domain=addressing.domain_of(uri), inbox=f"{sink}/r{index}/inbox")
            )
            session.add(
                Follow(
                    follower_uri=uri, followee_uri=actor.uri, activity_id=uri + "#follow", state="accepted"
                )
            )
    start = time.perf_counter()
    for index in range(activities):
        with db.session_scope(engine, write=True) as session:
            note = local.new_activity_id(settings) + "/note"
            activity = {
                "type": "Create",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {"id": note, "type": "Note", "content": f"{index} {BODY_TEXT}"},
            }
            publish(settings, actor=actor, activity=activity, to_followers=True, public=True, session=session)
    return settings, engine, time.perf_counter() - start


async def deliver_all(settings: Any, engine: Any, deadline: float) -> tuple[int, float]:
    """Run one delivery job until nothing is due (or the deadline); (claimed, seconds)."""
    from node.activitypub.outbox.job import DeliveryJob

    job = DeliveryJob(settings, engine, accounts=DIRECTORY)  # its connections are opened in the timed part
    try:
        total, start = 0, time.perf_counter()
        while time.monotonic() < deadline and (count := await job.run_once()):
            total += count
        return total, time.perf_counter() - start
    finally:
        await job.aclose()


async def sign_and_post(sink: str, count: int, concurrency: int, deadline: float) -> tuple[int, float]:
    """The same signed POSTs through the same client as the delivery job, without any database work."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from node.activitypub.transport.poster import InboxPoster

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps({"type": "Create", "object": {"type": "Note", "content": BODY_TEXT}}).encode()
    pending = iter(range(count))
    sent = 0

    async def lane() -> None:
        nonlocal sent
        for index in pending:
            if time.monotonic() >= deadline:
                return
            await poster.post_signed(
                f"{sink}/r{index % 50}/inbox",
                body,
                key_id="http://127.0.0.1:9/users/alice#main-key",
                private_key=key,
            )
            sent += 1

    async with InboxPoster(user_agent="bench", allow_private=True) as poster:
        start = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return sent, time.perf_counter() - start


def run_loop(factory: Callable[[], Any]) -> Any:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(factory())


def result(
    backend: str,
    path: str,
    concurrency: int,
    done: int,
    expected: int,
    seconds: float,
    ceiling: float,
    publish_seconds: float | None = None,
) -> dict[str, Any]:
    return {
        "backend": backend,
        "path": path,
        "concurrency": concurrency,
        "deliveries": done,
        "expected": expected,
        "seconds": round(seconds, 3),
        "per_second": round(done / seconds, 1),
        "ratio": round(done / seconds / ceiling, 3),
        "publish_per_second": round(expected / publish_seconds, 1) if publish_seconds else None,
    }


Run = tuple[str, str, int, int, float, float | None]
"""``(backend, path, concurrency, deliveries, seconds, publish seconds)`` of one phase."""


def one_round(args: argparse.Namespace, backends: list[str], sink: str, workdir: Path) -> list[Run]:
    """Each backend's delivery job on freshly published deliveries, then sign + post alone."""
    total = args.activities * args.recipients
    runs: list[Run] = []
    concurrency = 8
    for backend in backends:
        with scratch_database(backend, workdir) as url:
            settings, engine, publish_seconds = prepare(url, sink, workdir, args.activities, args.recipients)
            if args.concurrency:
                settings = settings.replace(delivery_concurrency=args.concurrency)
            deadline = time.monotonic() + args.seconds
            try:
                first = sink_count(sink)
                _, seconds = run_loop(lambda: deliver_all(settings, engine, deadline))  # noqa: B023
                received = sink_count(sink) - first
            finally:
                engine.dispose()
        concurrency = settings.delivery_concurrency
        runs.append((backend, "delivery job", concurrency, received, seconds, publish_seconds))
    deadline = time.monotonic() + args.seconds
    sent, seconds = run_loop(lambda: sign_and_post(sink, total, concurrency, deadline))
    runs.append(("-", "sign + post", concurrency, sent, seconds, None))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=60)
    parser.add_argument("--recipients", type=int, default=50, help="followers, each with its own inbox")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; rates are their medians")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit of each phase")
    parser.add_argument("--concurrency", type=int, help="deliveries in flight (default: the setting's, 8)")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return 0

    backends = ["sqlite"] + (["postgresql"] if os.environ.get("ASASAP_TEST_DATABASE_URL") else [])
    signing = min(2.0, args.seconds)
    ceilings = [signing_rate(signing)]
    rounds: list[list[Run]] = []
    with tempfile.TemporaryDirectory() as tmp, running_sink(time.monotonic() + 30) as sink:
        for _ in range(args.rounds):
            rounds.append(one_round(args, backends, sink, Path(tmp)))
            ceilings.append(signing_rate(signing))
    ceiling = max(ceilings)
    total = args.activities * args.recipients
    rows = []
    for phase in zip(*rounds, strict=True):
        rates = [done / seconds for _, _, _, done, seconds, _ in phase]
        backend, path, concurrency, done, seconds, publish = phase[rates.index(statistics.median_low(rates))]
        row = result(backend, path, concurrency, done, total, seconds, ceiling, publish)
        row["rounds_per_second"] = [round(rate, 1) for rate in rates]
        row["complete"] = all(run[3] == total for run in phase)
        rows.append(row)

    print(
        f"RSA-2048 signing ceiling: {ceiling:.0f} signatures/s, the highest of "
        f"{', '.join(f'{rate:.0f}' for rate in ceilings)} (one process, around each round)"
    )
    header = "backend     path          in flight deliveries  seconds   per s  ratio  (rounds, per s)"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['backend']:<11} {row['path']:<13} {row['concurrency']:>9} {row['deliveries']:>10} "
            f"{row['seconds']:>8.2f} {row['per_second']:>7.0f} {row['ratio']:>6.2f}  "
            f"({', '.join(f'{rate:.0f}' for rate in row['rounds_per_second'])})"
        )
    summary = {
        "bench": "delivery",
        "signing_per_second": round(ceiling, 1),
        "signing_measured": [round(rate, 1) for rate in ceilings],
        "goal_ratio": 0.5,
        "runs": rows,
    }
    print(json.dumps(summary))
    return 0 if all(row["complete"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
