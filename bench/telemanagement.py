"""Telemanagement: clock events per second as a ratio to a bare insert, and ``verify-log`` as a ratio to
bare SHA-256 over the same bytes, both measured in the same run.

    .venv/bin/python bench/telemanagement.py [--events 2000] [--rounds 3] [--json]

1. **Clocking.** The ceiling is one row inserted into a table shaped like ``tm_clock_events`` with
   SQLAlchemy Core on the same engine, one transaction per event (``BEGIN IMMEDIATE`` on SQLite, as the
   node's writing requests). The node does a whole check-in or check-out as the pages and the API do
   (:func:`node.telemanagement.clocking.clock`, by hand with a reason): the visit locked and moved, the
   clock event written, the chain's head locked and the link hashed and appended, one transaction each.
   The two take turns; rates are medians of the rounds. SQLite always; PostgreSQL too when
   ``ASASAP_TEST_DATABASE_URL`` is set (a scratch database).
2. **verify-log.** :func:`node.telemanagement.clocklog.verify` over the links written above (read in
   batches, each link's canonical form rebuilt and hashed, every clock event compared with its link),
   as a ratio to hashing the same canonical forms in memory with ``hashlib`` alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text
from sqlmodel import col, select

from node.accounts.models import Role
from node.accounts.service import create_user
from node.core import db
from node.core.timeutil import UTCDateTime, utcnow
from node.settings import load_settings
from node.telemanagement import clocking, clocklog, plans
from node.telemanagement.models import Visit
from node.telemanagement.tables import ClockLogEntry

PG_ENV = "ASASAP_TEST_DATABASE_URL"
PASSWORD = "une phrase de passe solide"


def _scratch_pg() -> tuple[str, Any]:
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


def _bare_table(engine: Any) -> Table:
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
    meta.create_all(engine)
    return table


def run(url: str, events: int, rounds: int) -> dict[str, Any]:
    engine = db.make_engine(url)
    db.migrate(engine)
    settings = load_settings(env={}, base_url="http://127.0.0.1:9", secret_key="x" * 40, database_url=url)
    bare = _bare_table(engine)
    visits_needed = events // 2 * rounds
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
        start = datetime.now(UTC) - timedelta(hours=2)
        s.add_all(
            Visit(
                plan_id=plan.id or 0,
                category="housework",
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                provider_id=provider.id,
            )
            for _ in range(visits_needed)
        )
    with db.session_scope(engine) as s:
        visit_ids = list(s.exec(select(Visit.id).order_by(col(Visit.id))))
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
                    },
                )
        bare_rates.append(events / (time.perf_counter() - started))
        mine = visit_ids[r * (events // 2) : (r + 1) * (events // 2)]
        started = time.perf_counter()
        for kind in ("in", "out"):
            for visit_id in mine:
                with db.session_scope(engine, write=True) as s:
                    clocking.clock(s, settings, provider, visit_id or 0, kind, manual_reason="other")
        node_rates.append(2 * len(mine) / (time.perf_counter() - started))
    with db.session_scope(engine) as s:
        started = time.perf_counter()
        verified = clocklog.verify(s)
        verify_seconds = time.perf_counter() - started
        forms = [
            (link.prev_hash, clocklog.canonical(link))
            for link in s.exec(select(ClockLogEntry).order_by(col(ClockLogEntry.seq)))
        ]
    assert verified.ok, verified.reason
    started = time.perf_counter()
    for prev, form in forms:
        hashlib.sha256(f"{prev}\n{form}".encode()).hexdigest()
    hash_seconds = time.perf_counter() - started
    engine.dispose()
    node, ceiling = statistics.median(node_rates), statistics.median(bare_rates)
    links = verified.checked
    return {
        "bare_insert_per_s": round(ceiling),
        "clock_events_per_s": round(node),
        "ratio": round(node / ceiling, 2),
        "links": links,
        "verify_links_per_s": round(links / verify_seconds),
        "bare_sha256_per_s": round(links / hash_seconds),
        "verify_ratio": round(hash_seconds / verify_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.events, args.rounds)
    if os.environ.get(PG_ENV):
        url, drop = _scratch_pg()
        try:
            results["postgresql"] = run(url, args.events, args.rounds)
        finally:
            drop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for backend, r in results.items():
        print(
            f"{backend}: bare inserts {r['bare_insert_per_s']}/s, clock events {r['clock_events_per_s']}/s, "
            f"ratio {r['ratio']}; verify-log {r['verify_links_per_s']} links/s over {r['links']} links, "
            f"bare SHA-256 {r['bare_sha256_per_s']}/s, ratio {r['verify_ratio']}"
        )


if __name__ == "__main__":
    main()
