"""Delivery throughput: deliveries per second from a real delivery job (real signing, real HTTP, real
database) to a local inbox sink, as a ratio to the raw RSA-2048 signing rate of this machine.

    .venv/bin/python bench/delivery.py [--activities 60] [--recipients 50] [--seconds 60]

The ceiling is measured in the same run: RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second with
``cryptography`` in one process (every delivery needs one, since each inbox URL gives a different
signing string). The sink is a minimal ASGI app on uvicorn (uvloop, httptools) in another process on
127.0.0.1 that answers 202. ``activities × recipients`` deliveries, each to a distinct inbox, are
published, then one delivery job runs until none is left. SQLite always; PostgreSQL too when
``ASASAP_TEST_DATABASE_URL`` is set (a scratch database is created and dropped). A second row per run,
"sign + post", shows the same POSTs without any database, to separate transport from storage costs.
Only loopback is used; every phase is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

    from node import db

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
    from node import db
    from node.accounts import service
    from node.activitypub import local
    from node.activitypub.models import Follow, RemoteActor
    from node.activitypub.outbox import publish
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
        user = service.create_user(session, username="alice", password="une phrase de passe solide")
        actor = local.person(settings, user)
        local.private_key(session, settings, actor)
        local.private_key(session, settings, local.node_actor(settings))
        for index in range(recipients):
            uri = f"{sink}/r{index}/actor"
            session.add(RemoteActor(uri=uri, domain=local.domain_of(uri), inbox=f"{sink}/r{index}/inbox"))
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
            publish(session, settings, actor=actor, activity=activity, to_followers=True, public=True)
    return settings, engine, time.perf_counter() - start


async def deliver_all(settings: Any, engine: Any, deadline: float) -> tuple[int, float]:
    """Run one delivery job until nothing is due (or the deadline); (claimed, seconds)."""
    from node.activitypub.worker import DeliveryJob

    job = DeliveryJob(settings, engine)
    try:
        await job.fetcher()  # connections and keys are set up outside the timed part
        total, start = 0, time.perf_counter()
        while time.monotonic() < deadline and (count := await job.run_once()):
            total += count
        return total, time.perf_counter() - start
    finally:
        await job.aclose()


async def sign_and_post(sink: str, count: int, concurrency: int, deadline: float) -> tuple[int, float]:
    """The same signed POSTs through the same fetcher, without any database work."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from node.activitypub.fetch import Fetcher
    from node.activitypub.signatures import HttpSignatureAuth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = HttpSignatureAuth(key_id="http://127.0.0.1:9/users/alice#main-key", private_key=key)
    body = json.dumps({"type": "Create", "object": {"type": "Note", "content": BODY_TEXT}}).encode()
    limit = asyncio.Semaphore(concurrency)
    sent = 0

    async def one(index: int) -> None:
        nonlocal sent
        async with limit:
            if time.monotonic() < deadline:
                await fetcher.post(
                    f"{sink}/r{index % 50}/inbox",
                    body,
                    {"Content-Type": "application/activity+json"},
                    auth=auth,
                )
                sent += 1

    async with Fetcher(user_agent="bench", allow_private=True) as fetcher:
        start = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(count)))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=60)
    parser.add_argument("--recipients", type=int, default=50, help="followers, each with its own inbox")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit of each phase")
    parser.add_argument("--concurrency", type=int, help="deliveries in flight (default: the setting's, 8)")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return 0

    backends = ["sqlite"] + (["postgresql"] if os.environ.get("ASASAP_TEST_DATABASE_URL") else [])
    ceiling = signing_rate(min(3.0, args.seconds))
    total = args.activities * args.recipients
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, running_sink(time.monotonic() + 30) as sink:
        for backend in backends:
            with scratch_database(backend, Path(tmp)) as url:
                settings, engine, publish_seconds = prepare(
                    url, sink, Path(tmp), args.activities, args.recipients
                )
                if args.concurrency:
                    settings = settings.replace(delivery_concurrency=args.concurrency)
                deadline = time.monotonic() + args.seconds
                try:
                    before = sink_count(sink)
                    _, seconds = run_loop(lambda: deliver_all(settings, engine, deadline))  # noqa: B023
                    received = sink_count(sink) - before
                finally:
                    engine.dispose()
            concurrency = settings.delivery_concurrency
            rows.append(
                result(
                    backend, "delivery job", concurrency, received, total, seconds, ceiling, publish_seconds
                )
            )
        deadline = time.monotonic() + args.seconds
        sent, seconds = run_loop(lambda: sign_and_post(sink, total, concurrency, deadline))
        rows.append(result("-", "sign + post", concurrency, sent, total, seconds, ceiling))

    print(f"RSA-2048 signing ceiling: {ceiling:.0f} signatures/s (one process)")
    header = "backend     path          in flight deliveries  seconds   per s  ratio"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['backend']:<11} {row['path']:<13} {row['concurrency']:>9} {row['deliveries']:>10} "
            f"{row['seconds']:>8.2f} {row['per_second']:>7.0f} {row['ratio']:>6.2f}"
        )
    summary = {"bench": "delivery", "signing_per_second": round(ceiling, 1), "goal_ratio": 0.5, "runs": rows}
    print(json.dumps(summary))
    return 0 if all(row["deliveries"] == row["expected"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
