"""Matching latency: ranking this node's providers for one new demand, as the job does, as a ratio to
reading the same rows (providers, their categories and open offers) with bare SQL in the same run.

    .venv/bin/python bench/matching.py [--providers 2000] [--demands 40] [--json]

SQLite (a file in WAL mode). The providers and demands come from the labelled corpus's generator
(``scripts/matching_corpus.py``): its providers are repeated with other usernames up to ``--providers``,
each with one open offer. Measured per demand: **pass** = reading the providers
(:func:`~node.search.matching.candidates.people_of_node`, done once per pass of the job), with no stems
in memory, plus ranking them (:func:`~node.search.matching.candidates.providers_for_demand`), i.e. the
cost of a pass with one new demand after a restart; **read_warm** = reading the providers again with
their texts' stems in memory (every later pass); **rank** = the ranking alone, i.e. each further demand
of the same pass; **bare** = the three SELECTs of the same rows, without stemming or scoring. Figures are
p50 and p95 over the demands.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.core import db  # noqa: E402
from node.core.timeutil import utcnow  # noqa: E402
from node.market.models import Proposal  # noqa: E402
from node.search.matching import candidates, scoring  # noqa: E402
from node.settings import load_settings  # noqa: E402
from scripts.matching_corpus import build  # noqa: E402
from tests.support.matching import many_providers, unsaved_proposal  # noqa: E402

BARE = (
    "SELECT id, commune_insee, bio, provider_status FROM users WHERE offers_services AND status = 'active'",
    "SELECT user_id, category FROM user_categories",
    "SELECT local_author_id, title, description, category, schedule FROM proposals "
    "WHERE purpose = 'offer' AND state = 'open' AND local_author_id IS NOT NULL",
)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }


def run(url: str, count: int, demands: int) -> dict[str, Any]:
    settings = load_settings(env={}, database_url=url, base_url="https://bench.example")
    engine = db.make_engine(url)
    db.migrate(engine)
    corpus = build()
    people = [
        {**person, "username": f"{person['username']}x{n}"}
        for n in range(count // len(corpus["providers"]) + 1)
        for person in corpus["providers"]
    ][:count]
    with Session(engine) as session:
        many_providers(session, settings, people)
        rows = [
            unsaved_proposal(
                settings,
                d["title"],
                author_uri=f"https://other.example/users/{d['key']}",
                purpose="request",
                description=d["description"],
                category=d["category"],
                insee=d["insee"],
                origin="other.example",
            )
            for d in corpus["demands"][:demands]
        ]
        session.add_all(rows)
        session.commit()
        ids = [row.id for row in rows]
    passes, ranks, bares, warm = [], [], [], []
    with Session(engine) as session:
        for demand_id in ids:
            demand = session.get(Proposal, demand_id)
            assert demand is not None
            scoring.forget_texts()  # cold: every text stemmed again, as after a restart
            started = time.perf_counter()
            found = candidates.people_of_node(settings, utcnow(), session=session)
            loaded = time.perf_counter()
            candidates.people_of_node(settings, utcnow(), session=session)
            warm.append(time.perf_counter() - loaded)
            ranked = time.perf_counter()
            candidates.providers_for_demand(settings, demand, utcnow(), session=session, people=found)
            done = time.perf_counter()
            passes.append(loaded - started + done - ranked)
            ranks.append(done - ranked)
            started = time.perf_counter()
            for statement in BARE:
                session.execute(text(statement)).all()
            bares.append(time.perf_counter() - started)
            session.expunge_all()
    engine.dispose()
    whole, rank, bare = _percentiles(passes), _percentiles(ranks), _percentiles(bares)
    read = _percentiles(warm)
    ratio = round(whole["p50_ms"] / max(bare["p50_ms"], 0.001), 1)
    return {"pass": whole, "read_warm": read, "rank": rank, "bare": bare, "ratio_pass_to_bare_p50": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=2000)
    parser.add_argument("--demands", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(f"sqlite:///{tmp}/bench.db", args.providers, args.demands)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"sqlite: {args.providers} providers, {args.demands} demands; "
        f"pass p50 {figures['pass']['p50_ms']} ms, p95 {figures['pass']['p95_ms']} ms; "
        f"reading the providers again (stems in memory) p50 {figures['read_warm']['p50_ms']} ms; "
        f"rank alone p50 {figures['rank']['p50_ms']} ms, "
        f"p95 {figures['rank']['p95_ms']} ms; bare reads p50 {figures['bare']['p50_ms']} ms; "
        f"ratio at p50 {figures['ratio_pass_to_bare_p50']}"
    )


if __name__ == "__main__":
    main()
