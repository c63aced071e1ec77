"""Matching latency: ranking this node's providers for one new demand, as the job does, from the table of
providers' profiles (``match_profiles``), as a ratio to the bare SQL pre-filter of the same demand in the
same run.

    .venv/bin/python bench/matching.py [--offers 100000] [--per-provider 5] [--demands 40]
        [--spread france|corpus] [--backend sqlite|postgresql] [--pg-url URL] [--json]

The providers and demands come from the labelled corpus's generator (``scripts/matching_corpus.py``): its
60 providers are repeated under other usernames, each with ``--per-provider`` open offers (their own and
others of the same category from the corpus), up to ``--offers`` offers. ``--spread france`` places each
repeated provider in a commune drawn from the whole gazetteer (a national node); ``--spread corpus``
keeps them in the corpus's communes east of Paris (a dense local node, the worst case: nearly every
provider of the category is within reach). Demands are the corpus's, at their communes.

Measured: **build** = the first :func:`~node.search.matching.profiles.refresh` (every provider built
from their rows, once); **refresh** = a refresh with nothing changed (once per pass of the job);
**rank** = what the job does for each demand of a pass: the best candidates who opted in to alerts
(:func:`~node.search.matching.candidates.iter_providers`, its first slice of
:func:`~node.search.matching.alerts.window`: the SQL pre-filter, the rows not yet in memory read, every
candidate scored, the accounts of the best read again and blocks checked), over the demands after the
first (the first, with the memory of rows empty, is given apart as the cold cost; after it, as the job
after its first pass, :func:`~node.search.matching.ranking.settle`);
**full** = the whole ranking of every candidate
(:func:`~node.search.matching.candidates.providers_for_demand`), checked to begin with the same people;
**query** = the pre-filter query alone (:func:`~node.search.matching.profiles.nearby`), the floor of a
ranking that reads its candidates from the database; **score all** and **score bounded** = the scoring
of the pre-filtered rows alone (in memory), to the first slice, by scoring every candidate then taking
the best (:func:`~node.search.matching.ranking.scored`, the ranking before the bound) and by
:func:`~node.search.matching.ranking.ranked`, alternated twice per demand and checked to agree.
Figures are p50 and p95 over the demands.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.accounts.models import User, UserCategory  # noqa: E402
from node.accounts.passwords import hash_password  # noqa: E402
from node.core import db  # noqa: E402
from node.core.timeutil import utcnow  # noqa: E402
from node.market.models import Proposal  # noqa: E402
from node.market.proposals.columns import commune_columns  # noqa: E402
from node.places.gazetteer import default_gazetteer  # noqa: E402
from node.search.matching import candidates, profiles, ranking  # noqa: E402
from node.search.matching.alerts import window  # noqa: E402
from node.search.matching.models import MatchSettings  # noqa: E402
from node.settings import Settings, load_settings  # noqa: E402
from scripts.matching_corpus import build  # noqa: E402
from tests.support.matching import corpus_demand, unsaved_proposal  # noqa: E402


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }


def _fill(engine: Any, settings: Settings, corpus: dict[str, Any], offers: int, per: int, spread: str) -> int:
    """Store the repeated providers and their offers with bulk inserts (explicit ids: the database is
    new); how many providers. Timestamps are set an hour back: the rows existed before the pass."""
    rng = random.Random(7)
    gazetteer = default_gazetteer()
    communes = [c for c in gazetteer.communes() if c.has_coordinates]
    same: dict[str, list[dict[str, Any]]] = {}
    for person in corpus["providers"]:
        same.setdefault(person["offer"]["category"], []).append(person["offer"])
    templates: dict[str, dict[str, Any]] = {}  # an offer's columns, made once per corpus offer
    for person in corpus["providers"]:
        offer = person["offer"]
        row = unsaved_proposal(
            settings,
            offer["title"],
            author_uri="",
            purpose="offer",
            description=offer["description"],
            category=offer["category"],
            insee=person["insee"],
        )
        templates[offer["title"]] = row.model_dump(exclude={"id", "ap_id", "author_uri", "local_author_id"})
    password = hash_password("bench-not-a-login")
    before = utcnow() - timedelta(hours=1)
    count = offers // per
    with Session(engine) as session:
        for start in range(0, count, 5000):
            users, categories, radii, rows = [], [], [], []
            for n in range(start, min(count, start + 5000)):
                person = corpus["providers"][n % len(corpus["providers"])]
                commune = gazetteer.by_insee(person["insee"]) if spread == "corpus" else rng.choice(communes)
                assert commune is not None
                user_id = n + 1
                users.append(
                    {
                        "id": user_id,
                        "username": f"p{n}",
                        "password_hash": password,
                        "offers_services": True,
                        "provider_status": person["status"],
                        "commune_insee": commune.insee,
                        "bio": person["bio"],
                        "created_at": before,
                        "updated_at": before,
                    }
                )
                categories += [{"user_id": user_id, "category": c} for c in person["categories"]]
                radii.append(
                    {
                        "user_id": user_id,
                        "radius_km": person["radius_km"],
                        "alerts": True,
                        "updated_at": before,
                    }
                )
                others = same[person["offer"]["category"]]
                place = commune_columns(commune)
                for offer in [person["offer"]] + [rng.choice(others) for _ in range(per - 1)]:
                    rows.append(
                        {
                            **templates[offer["title"]],
                            **place,
                            "ap_id": f"https://bench.example/proposals/{uuid.uuid4()}",
                            "author_uri": f"https://bench.example/users/p{n}",
                            "local_author_id": user_id,
                            "published_at": before,
                            "updated_at": before,
                        }
                    )
            session.execute(insert(User), users)
            session.execute(insert(UserCategory), categories)
            session.execute(insert(MatchSettings), radii)
            session.execute(insert(Proposal), rows)
            session.commit()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT setval('users_id_seq', (SELECT max(id) FROM users))"))
    return count


def run(url: str, offers: int, per: int, demands: int, spread: str) -> dict[str, Any]:
    settings = load_settings(env={}, database_url=url, base_url="https://bench.example")
    engine = db.make_engine(url)
    db.migrate(engine)
    corpus = build()
    started = time.perf_counter()
    providers = _fill(engine, settings, corpus, offers, per, spread)
    filled = time.perf_counter() - started
    with Session(engine) as session:
        rows = [corpus_demand(settings, d, origin="other.example") for d in corpus["demands"][:demands]]
        session.add_all(rows)
        session.commit()
        ids = [row.id for row in rows]
    with db.session_scope(engine, write=True) as session:
        started = time.perf_counter()
        profiles.refresh(settings, utcnow(), session=session)
        built = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        # as autovacuum does after so many rows are written: the visibility map lets the pre-filter read
        # its covering index alone, and the planner gets the tables' statistics
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    refreshes, ranks, fulls, queries, found, considered = [], [], [], [], [], []
    scans: list[float] = []
    bounds: list[float] = []
    eligible = candidates.eligible
    first = window(settings)
    ranking.forget()  # the first ranking reads every row it meets: the cold cost
    cold = 0.0
    with db.session_scope(engine, write=True) as session:
        for demand_id in ids:
            demand = session.get(Proposal, demand_id)
            assert demand is not None
            started = time.perf_counter()
            profiles.refresh(settings, utcnow(), session=session)
            refreshes.append(time.perf_counter() - started)
            started = time.perf_counter()
            best = candidates.iter_providers(
                settings, demand, utcnow(), session=session, refreshed=True, alerts_only=True, first=first
            )
            kept = list(islice(best, first))
            ranks.append(time.perf_counter() - started)
            if not cold:
                cold = ranks[-1]
                ranking.settle()  # as the job does after its first pass
            started = time.perf_counter()
            ranked = candidates.providers_for_demand(
                settings, demand, utcnow(), session=session, refreshed=True
            )
            fulls.append(time.perf_counter() - started)
            assert [r.user for r in ranked[: len(kept)]] == [r.user for r in kept]  # all opted in here
            found.append(len(ranked))
            need = candidates.need_of(demand)
            started = time.perf_counter()
            near = profiles.nearby(need, session=session, alerts_only=True)
            queries.append(time.perf_counter() - started)
            considered.append(len(near))
            now, author = utcnow(), demand.local_author_id
            for _ in range(2):  # alternated, twice: the same load for both
                started = time.perf_counter()
                everyone = ranking.scored(need, near, now, author_id=author, eligible=eligible)
                head = next(ranking.best(everyone, first), [])
                scans.append(time.perf_counter() - started)
                started = time.perf_counter()
                bounded = ranking.ranked(need, near, now, author_id=author, eligible=eligible, first=first)
                assert next(bounded, []) == head
                bounds.append(time.perf_counter() - started)
            session.expunge_all()
    engine.dispose()
    rank, query = _percentiles(ranks[1:]), _percentiles(queries)
    return {
        "backend": url.split(":", 1)[0].split("+", 1)[0],
        "offers": providers * per,
        "providers": providers,
        "spread": spread,
        "fill_s": round(filled, 1),
        "build_s": round(built, 1),
        "refresh": _percentiles(refreshes),
        "rank": rank,
        "rank_cold_ms": round(cold * 1000, 1),
        "full": _percentiles(fulls),
        "query": query,
        "score_all": _percentiles(scans),
        "score_bounded": _percentiles(bounds),
        "candidates_mean": round(statistics.mean(considered), 1),
        "ranked_mean": round(statistics.mean(found), 1),
        "ratio_rank_to_query_p50": round(rank["p50_ms"] / max(query["p50_ms"], 0.001), 1),
    }


def _postgres(url: str, offers: int, per: int, demands: int, spread: str) -> dict[str, Any]:
    name = f"bench_matching_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return run(url.rsplit("/", 1)[0] + f"/{name}", offers, per, demands, spread)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--per-provider", type=int, default=5)
    parser.add_argument("--demands", type=int, default=40)
    parser.add_argument("--spread", choices=("france", "corpus"), default="france")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    shape = (args.offers, args.per_provider, args.demands, args.spread)
    if args.backend == "postgresql":
        figures = _postgres(args.pg_url, *shape)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run(f"sqlite:///{tmp}/bench.db", *shape)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['backend']}: {figures['offers']} offers of {figures['providers']} providers "
        f"({figures['spread']}), {args.demands} demands; build {figures['build_s']} s; "
        f"refresh p50 {figures['refresh']['p50_ms']} ms; rank p50 {figures['rank']['p50_ms']} ms, "
        f"p95 {figures['rank']['p95_ms']} ms (first, cold: {figures['rank_cold_ms']} ms); "
        f"full ranking p50 {figures['full']['p50_ms']} ms, p95 {figures['full']['p95_ms']} ms; "
        f"query p50 {figures['query']['p50_ms']} ms; "
        f"scoring every candidate p50 {figures['score_all']['p50_ms']} ms, "
        f"p95 {figures['score_all']['p95_ms']} ms; "
        f"with the bound p50 {figures['score_bounded']['p50_ms']} ms, "
        f"p95 {figures['score_bounded']['p95_ms']} ms; "
        f"{figures['candidates_mean']} candidates, {figures['ranked_mean']} ranked on average; "
        f"ratio rank / query at p50 {figures['ratio_rank_to_query_p50']}"
    )


if __name__ == "__main__":
    main()
