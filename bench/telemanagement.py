"""Telemanagement: check-ins and check-outs per second through the HTTP API and inside the process, each
as a ratio to a bare insert on the same stack, and ``verify-log`` over a million links as a ratio to bare
SHA-256 over the same bytes; every figure against its limit measured in the same run.

    .venv/bin/python bench/telemanagement.py [--requests 2000] [--concurrency 8] [--events 2000]
        [--rounds 3] [--links 1000000] [--json]

(``--requests 0``, ``--events 0`` or ``--links 0`` leaves that part out.)

1. **HTTP.** A real node (``asasap serve``) takes ``POST /api/v1/clock-events`` with the provider's
   bearer token (checked and counted against its per-minute limit, set high enough not to refuse), by
   hand with a reason: all the check-ins of ``--requests / 2`` visits, then their check-outs, from
   ``--concurrency`` keep-alive connections (the load generator of ``bench/inbox.py``, requests built
   before the run). The ceiling is a bare ASGI endpoint on the same server stack (uvicorn, uvloop,
   httptools), in its own process on the same database: it reads the same JSON body, looks the same
   token up (its SHA-256, the token and its account joined, as the node does) and inserts one row
   shaped like ``tm_clock_events`` with SQLAlchemy Core, one transaction per request, run in a worker
   thread as the node runs its own (so that PostgreSQL commits several at once for both). The two take
   turns; rates are medians of the rounds. After the last round the node's chain is verified.
2. **In the process.** The ceiling is the same row inserted with SQLAlchemy Core, one write transaction
   per event (``BEGIN IMMEDIATE`` on SQLite). The node does a whole check-in or check-out as the pages
   and the API do (:func:`node.telemanagement.clocking.clock`): the visit locked and moved, the event
   written, the chain's head moved on, the link hashed and appended, one transaction each.
3. **verify-log.** A database filled in bulk with ``--links`` chained links (a visit checked in and out
   for every two, each event with its link, the head), then :func:`node.telemanagement.clocklog.verify`
   over it (every link's canonical form rebuilt and hashed, every event compared with its link), as a
   ratio to the SHA-256 of the same canonical forms chained in memory with ``hashlib`` alone (timed while
   filling). Wall and CPU time of this process both: on PostgreSQL part of the reading is the server's.

SQLite always; PostgreSQL too when ``ASASAP_TEST_DATABASE_URL`` is set (scratch databases).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import inbox  # noqa: E402 - bench/ is run as scripts: the root goes on the path first
from node.accounts import credentials  # noqa: E402
from node.accounts.models import AccountStatus, ApiToken, Role, User  # noqa: E402
from node.accounts.service import create_user  # noqa: E402
from node.core import db  # noqa: E402
from node.core.prepared import Prepared  # noqa: E402
from node.core.sqlbase import table_of  # noqa: E402
from node.core.timeutil import UTCDateTime, utcnow  # noqa: E402
from node.settings import Settings, load_settings  # noqa: E402
from node.telemanagement import clocking, clocklog, plans  # noqa: E402
from node.telemanagement.models import ClockEvent, Visit  # noqa: E402
from node.telemanagement.tables import ClockChainHead, ClockLogEntry  # noqa: E402

PG_ENV = "ASASAP_TEST_DATABASE_URL"
PASSWORD = "une phrase de passe solide"
SECRET = "bench-telemanagement-secret-key-0123456789-0123456789"
BATCH = 20_000


def _scratch_pg() -> tuple[str, Callable[[], None]]:
    admin = os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg://")
    name = f"asasap_bench_tm_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url, drop


def _bare_table(engine: Engine | None = None) -> Table:
    meta = MetaData()
    table = Table(
        "bench_clock_events",
        meta,
        Column("id", Integer, primary_key=True),
        Column("visit_id", Integer, nullable=False),
        Column("kind", String(3), nullable=False),
        Column("at", UTCDateTime(timezone=True), nullable=False),
        Column("received_at", UTCDateTime(timezone=True), nullable=False),
        Column("method", String(8), nullable=False),
        Column("manual_reason", String(24), nullable=False),
        Column("provider_id", Integer),
    )
    if engine is not None:
        meta.create_all(engine)
    return table


def _settings(url: str) -> Settings:
    return load_settings(env={}, base_url="http://127.0.0.1:9", secret_key=SECRET, database_url=url)


def _care(engine: Engine, settings: Settings) -> tuple[User, int]:
    """A coordinator, a provider, a funder, a home and its plan; the provider and the plan."""
    with db.session_scope(engine, write=True) as s:
        coordinator = create_user(username="coord", password=PASSWORD, role=Role.COORDINATOR, session=s)
        provider = create_user(username="aline", password=PASSWORD, session=s)
        funder = plans.create_funder(s, coordinator, name="CD 93", kind="apa", billing="direct")
        home = plans.create_beneficiary(
            s, settings, coordinator, name="Mme Martin", commune="Montreuil", address="1 rue", door_code="1"
        )
        terms = plans.parse_terms(
            valid_from=(date.today() - timedelta(days=30)).isoformat(),
            valid_until="",
            hourly_rate="24,58",
            participation="10",
            hours={"housework": "20"},
        )
        plan = plans.create_plan(
            s,
            coordinator,
            beneficiary_id=home.id or 0,
            funder_id=funder.id or 0,
            folder_number="B-1",
            terms=terms,
        )
        return provider, plan.id or 0


def _visits(engine: Engine, plan_id: int, provider_id: int, count: int) -> list[int]:
    """``count`` visits of an hour that started two hours ago, given to the provider; their ids."""
    table = table_of(Visit)
    start, now = datetime.now(UTC) - timedelta(hours=2), utcnow()
    row = {
        "plan_id": plan_id, "category": "housework", "starts_at": start,
        "ends_at": start + timedelta(hours=1), "provider_id": provider_id, "state": "planned",
        "cancel_reason": "", "cancel_note": "", "created_at": now,
    }  # fmt: skip
    with db.session_scope(engine, write=True) as s:
        before = s.connection().execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar() or 0
        s.connection().execute(insert(table), [row] * count)
        ids = s.connection().execute(select(table.c.id).where(table.c.id > before).order_by(table.c.id))
        return [int(visit_id) for visit_id in ids.scalars()]


# --- 1. through the HTTP API -----------------------------------------------------------------------


def ceiling_app(database_url: str) -> Any:
    """The body read, the bearer token looked up, one row inserted, one transaction; nothing else."""
    engine = db.make_engine(database_url)
    tokens, users, bare = table_of(ApiToken), table_of(User), _bare_table()
    lookup = (
        select(users.c.id)
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
        .where(tokens.c.token_hash == text(":digest"), tokens.c.revoked_at.is_(None))
        .where(users.c.status == AccountStatus.ACTIVE.value)
    )
    statement = insert(bare)
    writer = engine.execution_options(sqlite_immediate=True)  # BEGIN IMMEDIATE, as the node's writes

    reply = inbox.reply

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await inbox.read_body(receive)
        headers = dict(scope["headers"])
        scheme, _, secret = headers.get(b"authorization", b"").decode().partition(" ")
        payload = json.loads(body) if body else {}
        if scheme.lower() != "bearer" or payload.get("kind") not in ("in", "out"):
            return await reply(send, 401)
        now = utcnow()
        row = {
            "visit_id": payload["visit_id"], "kind": payload["kind"], "at": now, "received_at": now,
            "method": "manual", "manual_reason": payload.get("manual_reason", ""),
        }  # fmt: skip

        def write() -> bool:
            with writer.begin() as connection:
                user_id = connection.execute(lookup, {"digest": credentials.digest(secret.strip())}).scalar()
                if user_id is None:
                    return False
                connection.execute(statement, {**row, "provider_id": user_id})
                return True

        # In a worker thread, as the node runs its transactions (PostgreSQL commits several at once).
        if not await anyio.to_thread.run_sync(write):
            return await reply(send, 401)
        answer = {"visit_id": payload["visit_id"], "kind": payload["kind"], "at": now.isoformat()}
        await reply(send, 201, json.dumps(answer).encode())

    return app


def serve_ceiling(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    inbox.serve_asgi(ceiling_app(args.database_url), args.port)


def _clock_requests(host: str, token: str, visit_ids: list[int], kind: str) -> list[bytes]:
    requests = []
    for visit_id in visit_ids:
        body = json.dumps({"visit_id": visit_id, "kind": kind, "manual_reason": "other"}).encode()
        head = (
            f"POST /api/v1/clock-events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


def run_http(url: str, requests: int, rounds: int, concurrency: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="asasap-bench-tm-"))
    node_port, ceiling_port = inbox.free_port(), inbox.free_port()
    env = {
        **inbox.node_env(workdir, url, node_port, SECRET),
        "ASASAP_LIMIT_API_REQUESTS_PER_TOKEN_MINUTE": str(100 * requests * (rounds + 1)),
    }
    cli = [sys.executable, "-m", "node.cli"]
    subprocess.run([*cli, "init", "--json"], env=env, check=True, capture_output=True, timeout=300)
    engine = db.make_engine(url)
    provider, plan_id = _care(engine, _settings(url))
    with db.session_scope(engine, write=True) as s:
        _, token = credentials.create_api_token(provider, "bench", session=s)
    _bare_table(engine)
    half = max(1, requests // 2)
    visit_ids = _visits(engine, plan_id, provider.pk, half * (rounds + 1))
    host = f"127.0.0.1:{node_port}"
    batches = [visit_ids[r * half : (r + 1) * half] for r in range(rounds + 1)]  # the first to warm up
    ceiling_command = [
        sys.executable,
        __file__,
        "ceiling",
        "--port",
        str(ceiling_port),
        "--database-url",
        url,
    ]
    ceiling = subprocess.Popen(ceiling_command, env=env, start_new_session=True)
    node = subprocess.Popen([*cli, "serve", "--port", str(node_port)], env=env, start_new_session=True)
    figures: list[dict[str, Any]] = []
    try:
        inbox.wait_ready(f"http://127.0.0.1:{ceiling_port}/", ceiling)
        inbox.wait_ready(f"http://127.0.0.1:{node_port}/api/v1/node", node)
        for number, batch in enumerate(batches):
            bare_rate, bare_load = inbox.run_load(
                ceiling_port, _clock_requests(host, token, batch * 2, "in"), concurrency, 600
            )
            seconds, statuses = 0.0, {}
            for kind in ("in", "out"):
                rate, load = inbox.run_load(
                    node_port, _clock_requests(host, token, batch, kind), concurrency, 600
                )
                seconds += len(batch) / rate
                statuses[kind] = dict(load.statuses)
            if number:  # the first round warms both servers up
                figures.append(
                    {
                        "bare_per_s": round(bare_rate),
                        "bare_statuses": dict(bare_load.statuses),
                        "node_per_s": round(2 * len(batch) / seconds),
                        "node_statuses": statuses,
                    }
                )
    finally:
        inbox.stop(ceiling)
        inbox.stop(node)
    with db.session_scope(engine) as s:
        verified = clocklog.verify(s)
    engine.dispose()
    bare = statistics.median(f["bare_per_s"] for f in figures)
    ours = statistics.median(f["node_per_s"] for f in figures)
    return {
        "concurrency": concurrency,
        "requests_per_round": 2 * half,
        "bare_per_s": round(bare),
        "node_per_s": round(ours),
        "ratio": round(ours / bare, 2),
        "rounds": figures,
        "links_verified": verified.checked if verified.ok else verified.reason,
    }


# --- 2. inside the process -------------------------------------------------------------------------


def run_in_process(url: str, events: int, rounds: int) -> dict[str, Any]:
    engine = db.make_engine(url)
    db.migrate(engine)
    settings = _settings(url)
    bare = _bare_table(engine)
    provider, plan_id = _care(engine, settings)
    visit_ids = _visits(engine, plan_id, provider.pk, events // 2 * rounds)
    node_rates: list[float] = []
    bare_rates: list[float] = []
    for r in range(rounds):
        now = utcnow()
        started = time.perf_counter()
        for i in range(events):
            with db.session_scope(engine, write=True) as s:
                s.connection().execute(
                    insert(bare),
                    {
                        "visit_id": i,
                        "kind": "in",
                        "at": now,
                        "received_at": now,
                        "method": "manual",
                        "manual_reason": "other",
                        "provider_id": provider.id,
                    },  # fmt: skip
                )
        bare_rates.append(events / (time.perf_counter() - started))
        mine = visit_ids[r * (events // 2) : (r + 1) * (events // 2)]
        started = time.perf_counter()
        for kind in ("in", "out"):
            for visit_id in mine:
                with db.session_scope(engine, write=True) as s:
                    clocking.clock(s, settings, provider, visit_id, kind, manual_reason="other")
        node_rates.append(2 * len(mine) / (time.perf_counter() - started))
    with db.session_scope(engine) as s:
        verified = clocklog.verify(s)
    assert verified.ok, verified.reason
    engine.dispose()
    node, ceiling = statistics.median(node_rates), statistics.median(bare_rates)
    return {
        "bare_insert_per_s": round(ceiling),
        "clock_events_per_s": round(node),
        "ratio": round(node / ceiling, 2),
    }


# --- 3. verify-log over a million links ------------------------------------------------------------


def _fill(engine: Engine, provider_id: int, plan_id: int, links: int) -> tuple[float, float, float]:
    """``links`` links of visits checked in and out, written in bulk with their events and visits; the
    wall and CPU seconds of chaining their canonical forms with SHA-256 alone, and of the whole fill."""
    started = time.perf_counter()
    base = datetime(2026, 1, 5, 7, tzinfo=UTC)
    visits, events, log = (Prepared(insert(table_of(m))) for m in (Visit, ClockEvent, ClockLogEntry))
    prev, hash_wall, hash_cpu = clocklog.GENESIS, 0.0, 0.0
    sha256 = hashlib.sha256
    with db.session_scope(engine, write=True) as s:
        for first in range(1, links + 1, BATCH):  # BATCH is even: a batch starts with a check-in
            seqs = range(first, min(first + BATCH, links + 1))
            visit_rows, fields = [], []
            for seq in seqs:
                visit_id, start = (seq + 1) // 2, base + timedelta(minutes=seq // 2)
                if seq % 2:
                    visit_rows.append(
                        {
                            "id": visit_id,
                            "plan_id": plan_id,
                            "category": "housework",
                            "starts_at": start,
                            "ends_at": start + timedelta(hours=1),
                            "provider_id": provider_id,
                            "state": "done",
                            "checked_in_at": start,
                            "checked_out_at": start + timedelta(minutes=61),
                            "cancel_reason": "",
                            "cancel_note": "",
                            "created_at": base,
                        }  # fmt: skip
                    )
                at = start + timedelta(minutes=0 if seq % 2 else 61)
                fields.append(
                    {
                        "chain": clocklog.CHAIN,
                        "seq": seq,
                        "event_id": seq,
                        "visit_id": visit_id,
                        "kind": "in" if seq % 2 else "out",
                        "at": at,
                        "received_at": at + timedelta(seconds=3),
                        "method": "manual",
                        "manual_reason": "other",
                        "provider_id": provider_id,
                        "offline": False,
                        "client_id": None,
                        "origin": "",
                        "note": "",
                        "position": "",
                    }  # fmt: skip
                )
            forms = [clocklog.canonical(SimpleNamespace(**f)) for f in fields]
            chained = [prev]
            wall, cpu = time.perf_counter(), time.process_time()
            for form in forms:
                prev = sha256(f"{prev}\n{form}".encode()).hexdigest()
                chained.append(prev)
            hash_wall += time.perf_counter() - wall
            hash_cpu += time.process_time() - cpu
            visits.run_many(s, visit_rows)
            events.run_many(
                s,
                [
                    {"id": f["seq"], "provider_id": provider_id}
                    | {
                        name: f[name]
                        for name in ("visit_id", "kind", "at", "received_at", "method", "manual_reason")
                    }
                    for f in fields
                ],
            )
            log.run_many(
                s, [f | {"prev_hash": chained[i], "hash": chained[i + 1]} for i, f in enumerate(fields)]
            )
        s.connection().execute(
            insert(table_of(ClockChainHead)), {"chain": clocklog.CHAIN, "seq": links, "hash": prev}
        )
    return hash_wall, hash_cpu, time.perf_counter() - started


def run_verify(url: str, links: int) -> dict[str, Any]:
    engine = db.make_engine(url)
    db.migrate(engine)
    provider, plan_id = _care(engine, _settings(url))
    hash_wall, hash_cpu, fill_seconds = _fill(engine, provider.pk, plan_id, links)
    with db.session_scope(engine) as s:
        wall, cpu = time.perf_counter(), time.process_time()
        verified = clocklog.verify(s)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    assert verified == clocklog.Verification(links), verified
    return {
        "links": links,
        "fill_seconds": round(fill_seconds, 1),
        "verify_seconds": round(wall, 1),
        "verify_links_per_s": round(links / wall),
        "bare_sha256_per_s": round(links / hash_wall),
        "ratio": round(hash_wall / wall, 3),
        "ratio_cpu": round(hash_cpu / cpu, 3),
    }


Scratch = Callable[[], tuple[str, Callable[[], None]]]


def _backends() -> list[tuple[str, Scratch]]:
    """(name, a function giving a scratch database's URL and its clean-up) for each database."""

    def sqlite() -> tuple[str, Callable[[], None]]:
        folder = tempfile.TemporaryDirectory()
        return f"sqlite:///{folder.name}/bench.db", folder.cleanup

    found: list[tuple[str, Scratch]] = [("sqlite", sqlite)]
    if os.environ.get(PG_ENV):
        found.append(("postgresql", _scratch_pg))
    return found


def main() -> int:
    if sys.argv[1:2] == ["ceiling"]:
        serve_ceiling(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="clock requests per round (HTTP)")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections (HTTP)")
    parser.add_argument("--events", type=int, default=2000, help="clock events per round (in process)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--links", type=int, default=1_000_000, help="links verified (verify-log)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    parts: list[tuple[str, int, Callable[[str], dict[str, Any]]]] = [
        ("http", args.requests, lambda url: run_http(url, args.requests, args.rounds, args.concurrency)),
        ("in_process", args.events, lambda url: run_in_process(url, args.events, args.rounds)),
        ("verify_log", args.links, lambda url: run_verify(url, args.links)),
    ]
    for backend, scratch in _backends():
        if args.only and backend != args.only:
            continue
        for part, size, measure in parts:
            if not size:
                continue
            url, clean = scratch()
            try:
                results.setdefault(backend, {})[part] = measure(url)
            finally:
                clean()
            if not args.json:
                print(backend, part, json.dumps(results[backend][part]), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
