"""Time bank: local transfers per second as a ratio to bare two-row inserts, and the reconciliation of
100,000 transfers between two real nodes.

    .venv/bin/python bench/timebank.py [--transfers 3000] [--rounds 3] [--reconcile 100000] [--json]

(``--transfers 0`` or ``--reconcile 0`` leaves that part out.)

1. **Transfers.** The ceiling is the physical limit of a double-entry ledger: two rows inserted into a
   table shaped like ``timebank_entries`` in one transaction, with SQLAlchemy Core on the same engine
   (so on the same connections, with the same settings: on SQLite WAL, ``synchronous=NORMAL``, foreign
   keys on, set once per connection by :func:`node.core.db.make_engine`).
   The node does a whole transfer inside the node as the pages and the API make a gift, a grant or a
   levy (:func:`node.timebank.records.transfer`: a DB-API connection of the pool, ``BEGIN IMMEDIATE``
   and ``COMMIT`` on SQLite, the statements of :mod:`node.timebank.hotpath`): the two balances changed
   in one ``UPDATE`` whose ``WHERE`` carries the limits, the transfer row, its two entries in one
   ``INSERT``, the payee's notification, one transaction each. The two take turns; rates are medians of
   the rounds. SQLite always; PostgreSQL too when ``ASASAP_TEST_DATABASE_URL`` is set (scratch
   databases). The same ratio in this process's CPU time too (on a loaded machine, wall time mostly
   measures the wait for a processor; PostgreSQL's own work happens in its server, outside this
   process). Given too: the bare insert inside an ORM session (``db.session_scope``), and the same
   transfer inside one (``records.apply_local``, as the services that do more in the same transaction
   apply it: an agreement's payment, a settlement, a reversal).
2. **Reconcile.** Two cooperative nodes (``asasap serve``, SQLite) whose clearing accounts hold
   ``--reconcile`` mirrored transfers (written in bulk before they start, with the digests each node
   keeps as its transfers settle), 10 of which node A still holds because their ``Accept`` was lost;
   the reconciliation run inside this process first, then ``asasap timebank reconcile B`` on A, timed
   from the command's start to its exit (Python start-up included): signed GET, statement signed by B
   with its kept digests, the differing groups fetched, read and compared, the 10 repairs. The second
   run agrees. Goal: ≤ 10 s. The CPU time of the reconciling side is printed too (on a loaded machine,
   wall time mostly measures the wait for a processor; the peer's work happens in its server).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    insert,
    text,
    update,
)

from node.core import db
from node.core.timeutil import UTCDateTime, utcnow
from node.settings import Mode, load_settings
from node.timebank import accounts, digests
from node.timebank.ledger import ACCOUNTS, ENTRIES, TRANSFERS
from node.timebank.policy import Policy
from node.timebank.records import Parties, apply_local, transfer, values_of

PG_ENV = "ASASAP_TEST_DATABASE_URL"


def _scratch_pg() -> tuple[str, Any]:
    admin = os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg://")
    name = f"asasap_bench_tb_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return url, drop


def _bare_table(engine: Engine) -> Table:
    meta = MetaData()
    table = Table(
        "bench_entries",
        meta,
        Column("id", Integer, primary_key=True),
        Column("transfer_id", Integer, nullable=False),
        Column("account_id", Integer, nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    meta.create_all(engine)
    return table


def _pair(i: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {"transfer_id": i, "account_id": 1, "amount": -1, "created_at": now},
        {"transfer_id": i, "account_id": 2, "amount": 1, "created_at": now},
    ]


def transfers_round(url: str, count: int, rounds: int) -> dict[str, Any]:
    engine = db.make_engine(url)
    db.migrate(engine)
    settings = load_settings(
        env={}, mode=Mode.COOPERATIVE, base_url="http://127.0.0.1:9", secret_key="x" * 40, database_url=url
    )
    policy = Policy.of(settings)
    bare = _bare_table(engine)
    with db.session_scope(engine, write=True) as session:
        from node.accounts.service import create_user

        users = [
            create_user(username=f"p{i}", password="une phrase de passe solide", session=session)
            for i in (1, 2)
        ]
        a, b = (accounts.person_account(session, u) for u in users)
        community = accounts.community(session)
        for account in (a, b):
            apply_local(
                session,
                policy,
                values_of(settings, "grant", Parties(community, account), 500, utcnow()),
                Parties(community, account),
            )
    ours: list[float] = []
    ceiling: list[float] = []
    in_node_transaction: list[float] = []
    in_session: list[float] = []
    cpu_ours: list[float] = []
    cpu_ceiling: list[float] = []
    for _ in range(rounds):
        now = utcnow()

        started, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            with engine.begin() as connection:
                connection.execute(insert(bare), _pair(i, now))
        ceiling.append(count / (time.perf_counter() - started))
        cpu_ceiling.append(count / (time.process_time() - cpu))
        started = time.perf_counter()
        for i in range(count):
            with db.session_scope(engine, write=True) as session:
                session.connection().execute(insert(bare), _pair(i, now))
        in_node_transaction.append(count / (time.perf_counter() - started))
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            parties = Parties(a, b) if i % 2 == 0 else Parties(b, a)
            transfer(engine, policy, values_of(settings, "gift", parties, 1, now), parties)
        ours.append(count / (time.perf_counter() - started))
        cpu_ours.append(count / (time.process_time() - cpu))
        started = time.perf_counter()
        for i in range(count):
            parties = Parties(a, b) if i % 2 == 0 else Parties(b, a)
            with db.session_scope(engine, write=True) as session:
                apply_local(session, policy, values_of(settings, "gift", parties, 1, now), parties)
        in_session.append(count / (time.perf_counter() - started))
    engine.dispose()
    c, o, t = statistics.median(ceiling), statistics.median(ours), statistics.median(in_node_transaction)
    return {
        "ceiling_per_s": round(c),
        "bare_in_node_transaction_per_s": round(t),
        "node_per_s": round(o),
        "ratio": round(o / c, 2),
        "ratio_same_transaction": round(o / t, 2),
        # The same transfer in the caller's ORM session (apply_local), as the services that do more
        # in the same transaction (an agreement's payment, a settlement) apply it.
        "in_session_per_s": round(statistics.median(in_session)),
        "ratio_in_session": round(statistics.median(in_session) / c, 2),
        # Per second of this process's CPU: what a loaded machine's waits for the processor leave out.
        "ratio_cpu": round(statistics.median(cpu_ours) / statistics.median(cpu_ceiling), 2),
    }


# --- reconcile between two real nodes ---------------------------------------------------------------


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(root: Path, name: str, port: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **environment,
        # Compiled once, as an installed node is (the first command, `init`, writes the bytecode).
        "PYTHONPYCACHEPREFIX": str(root / "pycache"),
        "ASASAP_DATA_DIR": str(root / name),
        "ASASAP_DATABASE_URL": f"sqlite:///{root / name / 'asasap.db'}",
        "ASASAP_BASE_URL": f"http://127.0.0.1:{port}",
        "ASASAP_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789abcdef",
        "ASASAP_ALLOW_PRIVATE_ADDRESSES": "true",
        "ASASAP_MODE": "cooperative",
        "ASASAP_LOG_LEVEL": "warning",
        "ASASAP_TIMEBANK_PEER_CAP": "99999",
        "ASASAP_EMBEDDED_WORKER": "false",
    }


def _fill(url: str, ours: str, peer: str, count: int, held: int, *, payer_side: bool) -> None:
    """``count`` transfers from A's people to B's, as A (payer) or B stores them; ``held`` of them
    still held on A."""
    engine = db.make_engine(url)
    now = utcnow().replace(microsecond=0) - timedelta(hours=1)
    with db.session_scope(engine, write=True) as session:
        from node.accounts.service import create_user

        user = create_user(username="pat", password="une phrase de passe solide", session=session)
        person = accounts.person_account(session, user)
        clearing = accounts.clearing(session, peer)
        person_id, clearing_id = person.id, clearing.id
    a_origin = f"http://{ours if payer_side else peer}"
    b_origin = f"http://{peer if payer_side else ours}"
    rows, entries = [], []
    for i in range(count):
        state = "pending" if payer_side and i < held else "settled"
        rows.append(
            {
                "id": i + 1,
                "uri": (uri := f"{a_origin}/timebank/transfers/{i:08d}"),
                "bucket": digests.bucket_of(uri),
                "kind": "gift",
                "state": state,
                "debit_account_id": person_id if payer_side else clearing_id,
                "credit_account_id": clearing_id if payer_side else person_id,
                "amount": 1,
                "payer_uri": f"{a_origin}/users/pat",
                "payee_uri": f"{b_origin}/users/pat",
                "peer": peer,
                "direction": "out" if payer_side else "in",
                "memo": "",
                "waiting_reason": "",
                "created_at": now,
                "attempts": 1,
                "refusal": "",
                "refusal_text": "",
                "exchange_state": ("offering" if state == "pending" else "accepted") if payer_side else None,
                "next_attempt_at": now + timedelta(days=1) if state == "pending" else None,
                "offer_activity_id": f"{a_origin}/timebank/offers/{i:08d}" if payer_side else None,
            }
        )
        if state == "settled":
            sign = -1 if payer_side else 1
            entries += [
                {"transfer_id": i + 1, "account_id": person_id, "amount": sign, "created_at": now},
                {"transfer_id": i + 1, "account_id": clearing_id, "amount": -sign, "created_at": now},
            ]
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(TRANSFERS), rows[start : start + 5000])
        for start in range(0, len(entries), 10000):
            connection.execute(insert(ENTRIES), entries[start : start + 10000])
        settled = count - (held if payer_side else 0)
        sign = -1 if payer_side else 1
        connection.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == person_id)
            .values(balance=sign * settled, held_out=held if payer_side else 0)
        )
        connection.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == clearing_id)
            .values(balance=-sign * settled, held_in=held if payer_side else 0)
        )
    with db.session_scope(engine, write=True) as session:  # as the node keeps them, transfer by transfer
        digests.rebuild(session, peer, digests.settled_lines(session, ours, peer).get(peer, []))
    engine.dispose()


def _in_process(env: dict[str, str], peer_port: int) -> dict[str, Any]:
    """The reconciliation itself, timed inside this process (no interpreter start-up)."""
    import asyncio

    from node.activitypub.actors.remote import RemoteActors
    from node.timebank import reconcile

    settings = load_settings(env=env)
    engine = db.make_engine(settings.effective_database_url)

    async def main() -> reconcile.Report:
        remote = RemoteActors(settings, engine)
        try:

            async def key_of(uri: str) -> tuple[str, str]:
                actor = await remote.get_actor(uri)
                assert actor.key_id and actor.public_key_pem
                return actor.key_id, actor.public_key_pem

            return await reconcile.reconcile(
                settings,
                engine,
                f"127.0.0.1:{peer_port}",
                f"http://127.0.0.1:{peer_port}",
                remote.fetch_document,
                key_of,
            )
        finally:
            await remote.aclose()

    started, cpu = time.perf_counter(), time.process_time()
    report = asyncio.run(main())
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    engine.dispose()
    data = report.to_json()
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "in_process": True,
        "differences": len(data["differences"]),
        "repaired": sum(1 for d in data["differences"] if d["repair"]),
        "mirrored": data["mirrored"],
        "agreed": data["agreed"],
    }


def reconcile_run(count: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="asasap-bench-tb-"))
    ports = {"a": _port(), "b": _port()}
    envs = {name: _env(root, name, port) for name, port in ports.items()}
    for name, env in envs.items():
        (root / name).mkdir()
        subprocess.run([sys.executable, "-m", "node.cli", "init"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    _fill(
        envs["a"]["ASASAP_DATABASE_URL"],
        f"127.0.0.1:{ports['a']}",
        f"127.0.0.1:{ports['b']}",
        count,
        10,
        payer_side=True,
    )
    _fill(
        envs["b"]["ASASAP_DATABASE_URL"],
        f"127.0.0.1:{ports['b']}",
        f"127.0.0.1:{ports['a']}",
        count,
        10,
        payer_side=False,
    )
    fill_seconds = time.perf_counter() - started
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "node.cli", "serve", "--port", str(ports[name])],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for name, env in envs.items()
    ]
    try:
        for port in ports.values():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v1/node", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
        runs = []
        runs.append(_in_process(envs["a"], ports["b"]))
        for _ in range(1):
            started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "node.cli",
                    "timebank",
                    "reconcile",
                    f"http://127.0.0.1:{ports['b']}",
                    "--json",
                ],
                env=envs["a"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_seconds = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
            if done.returncode not in (0, 1):
                raise RuntimeError(done.stderr)
            report = json.loads(done.stdout)
            runs.append(
                {
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu_seconds, 2),
                    "in_process": False,
                    "differences": len(report["differences"]),
                    "repaired": sum(1 for d in report["differences"] if d["repair"]),
                    "mirrored": report["mirrored"],
                    "agreed": report["agreed"],
                }
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    return {"transfers": count, "fill_seconds": round(fill_seconds, 1), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reconcile", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.transfers:
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = transfers_round(f"sqlite:///{tmp}/bench.db", args.transfers, args.rounds)
    if args.transfers and os.environ.get(PG_ENV):
        url, drop = _scratch_pg()
        try:
            results["postgresql"] = transfers_round(url, args.transfers, args.rounds)
        finally:
            drop()
    if args.reconcile:
        results["reconcile"] = reconcile_run(args.reconcile)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            r = results[backend]
            print(
                f"{backend}: bare two-row inserts {r['ceiling_per_s']}/s "
                f"({r['bare_in_node_transaction_per_s']}/s in an ORM session), "
                f"transfers {r['node_per_s']}/s, ratio {r['ratio']} ({r['ratio_same_transaction']}), "
                f"ratio in CPU time {r['ratio_cpu']}; in an ORM session {r['in_session_per_s']}/s, "
                f"ratio {r['ratio_in_session']}"
            )
    if "reconcile" in results:
        r = results["reconcile"]
        for i, run in enumerate(r["runs"], 1):
            print(
                f"reconcile #{i} ({'in process' if run['in_process'] else 'command'}) of {r['transfers']} "
                f"transfers: {run['seconds']} s ({run['cpu_seconds']} s of this side's CPU), "
                f"{run['differences']} differences, "
                f"{run['repaired']} repaired, mirrored={run['mirrored']}, agreed={run['agreed']}"
            )


if __name__ == "__main__":
    main()
