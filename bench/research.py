"""Research figures: the time to compute a node's twelve months of protected figures, as a ratio to the
physical limit, reading the same rows.

    .venv/bin/python bench/research.py [--agreements 20000] [--rounds 3] [--json]

A scratch SQLite database (PostgreSQL too when ``ASASAP_TEST_DATABASE_URL`` is set) holds, spread over
twelve months among 2,000 people, ``--agreements`` agreements with as many demands, two answers each and
an evaluation each. The ceiling is a bare ``SELECT`` of the columns the figures read, rows fetched into
Python (what no computation of them can beat); the node computes :func:`node.research.figures.compute`
for the twelve months (reading, indicators, protection). Times are medians of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from node.core import db
from node.research import figures
from node.settings import load_settings

START = datetime(2025, 12, 1, tzinfo=UTC)
PEOPLE = 2000
PROPOSALS = (
    "INSERT INTO proposals (id, ap_id, origin, author_uri, purpose, title, description, category,"
    " commune_name, postal_code, departement, state, search_text, published_at, updated_at) VALUES (:id,"
    " :ap, '', :author, 'request', 't', '', :category, '', '', '', 'closed', '', :at, :at)"
)
BIDS = (
    "INSERT INTO bids (ap_id, proposal_id, bidder_uri, origin, message, state, reject_reason,"
    " created_at, updated_at) VALUES (:ap, :pid, :bidder, '', '', 'active', '', :at, :at)"
)
AGREEMENTS = (
    "INSERT INTO agreements (id, ap_id, origin, proposal_id, proposal_ap_id, provider_uri,"
    " requester_uri, price_amount, price_currency, price_basis, quantity_hours, state, late_cancellation,"
    " dispute_reason, created_at, updated_at) VALUES (:id, :ap, '', :pid, :pap, :provider, :requester,"
    " :price, 'EUR', 'per_hour', 2, :state, false, '', :at, :at)"
)
EVALUATIONS = (
    "INSERT INTO evaluations (ap_id, origin, agreement_id, agreement_ap_id, evaluator_uri,"
    " evaluated_uri, evaluated_role, overall, criteria, comment, state, submitted_at, published_at)"
    " VALUES (:ap, '', :aid, :aap, :by, :of, 'provider', :score, '{}', '', 'published', :at, :at)"
)
MONTHS = [f"{(START + timedelta(days=31 * i)).strftime('%Y-%m')}" for i in range(12)]


def fill(engine: Engine, count: int) -> None:
    base = "http://bench.example"
    proposals, bids, agreements, evaluations = [], [], [], []
    for i in range(count):
        at = START + timedelta(minutes=i * (365 * 24 * 60 // max(count, 1)))
        author, provider = f"{base}/users/p{i % PEOPLE}", f"{base}/users/p{(i * 7 + 1) % PEOPLE}"
        proposals.append(
            {
                "id": i + 1,
                "ap": f"{base}/proposals/{i}",
                "author": author,
                "at": at,
                "category": ["menage", "repassage", "jardinage", "courses"][i % 4],
            }
        )
        for j in range(2):
            bids.append(
                {
                    "ap": f"{base}/bids/{i}-{j}",
                    "pid": i + 1,
                    "bidder": f"{base}/users/p{(i + j + 3) % PEOPLE}",
                    "at": at + timedelta(hours=j + 1),
                }
            )
        agreements.append(
            {
                "id": i + 1,
                "ap": f"{base}/agreements/{i}",
                "pid": i + 1,
                "pap": f"{base}/proposals/{i}",
                "provider": provider,
                "requester": author,
                "price": 15 + i % 20,
                "state": ["completed", "completed", "cancelled", "accepted"][i % 4],
                "at": at + timedelta(hours=5),
            }
        )
        evaluations.append(
            {
                "ap": f"{base}/evaluations/{i}",
                "aid": i + 1,
                "aap": f"{base}/agreements/{i}",
                "by": author,
                "of": provider,
                "score": 1 + i % 5,
                "at": at + timedelta(days=2),
            }
        )
    with engine.begin() as c:
        c.execute(text(PROPOSALS), proposals)
        c.execute(text(BIDS), bids)
        c.execute(text(AGREEMENTS), agreements)
        c.execute(text(EVALUATIONS), evaluations)


def ceiling(engine: Engine) -> float:
    started = time.perf_counter()
    with engine.connect() as c:
        for query in (
            "SELECT id, origin, author_uri, purpose, category, published_at FROM proposals",
            "SELECT proposal_id, bidder_uri, created_at FROM bids",
            "SELECT * FROM agreements",
            "SELECT * FROM evaluations WHERE state = 'published'",
        ):
            c.execute(text(query)).fetchall()
    return time.perf_counter() - started


def run(url: str, count: int, rounds: int, data_dir: Path) -> dict[str, Any]:
    engine = db.make_engine(url)
    db.migrate(engine)
    fill(engine, count)
    settings = load_settings(env={}, data_dir=data_dir, database_url=url, secret_key="bench-" + "x" * 40)
    bare, node = [], []
    for _ in range(rounds):
        bare.append(ceiling(engine))
        started = time.perf_counter()
        with db.session_scope(engine) as session:
            computed = figures.compute(session, settings, MONTHS)
        node.append(time.perf_counter() - started)
    engine.dispose()
    b, n = statistics.median(bare), statistics.median(node)
    return {
        "agreements": count,
        "cells": len(computed.cells),
        "bare_read_s": round(b, 3),
        "compute_s": round(n, 3),
        "ratio": round(b / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = run(f"sqlite:///{folder}/bench.db", args.agreements, args.rounds, Path(folder))
        server = os.environ.get("ASASAP_TEST_DATABASE_URL")
        if server:
            name = f"bench_research_{uuid.uuid4().hex[:8]}"
            admin = create_engine(
                server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = server.rsplit("/", 1)[0] + f"/{name}"
                results["postgresql"] = run(url, args.agreements, args.rounds, Path(folder))
            finally:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                admin.dispose()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for backend, r in results.items():
            print(
                f"{backend}: {r['agreements']} agreements, {r['cells']} cells:"
                f" bare read {r['bare_read_s']} s, figures {r['compute_s']} s, ratio {r['ratio']}"
            )


if __name__ == "__main__":
    main()
