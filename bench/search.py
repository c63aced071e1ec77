"""Search latency: one search of the engine (:func:`node.search.engine.search`: full text, filters,
distance, order, count and page) on generated French proposals, as a ratio to the bare full-text query
of the same words on the same database, measured in the same run.

    .venv/bin/python bench/search.py [--proposals 10000] [--repeat 5] [--json]

SQLite (a file in WAL mode) always; PostgreSQL too when ``ASASAP_TEST_DATABASE_URL`` is set (a scratch
database is created and dropped). The proposals are generated from French sentences of the sector in 26
categories and about 200 communes around Paris, Lyon, Marseille, Lille and Toulouse, with prices and
authors' names, through the same column mapping as the services (so indexed as theirs are). Each query
of :data:`QUERIES` runs ``--repeat`` times after a warm-up; the figures are the p50 and p95 over all of
them. The bare query is only the index lookup (``proposals_fts MATCH`` on SQLite, ``@@ to_tsquery`` with
the GIN index on PostgreSQL) returning the matching ids, without filters, order or rows.

With ``--http`` the same queries also go through the HTTP API of a real ``asasap serve`` on the filled
database (``GET /api/v1/search``, one keep-alive connection of the standard library's ``http.client``),
beside a bare ``GET /healthz`` of the same
server measured in the same run (the cost of a request that does nothing), and the plain listing
``GET /api/v1/proposals?q=`` with the same words; the figure is the ratio of the search through HTTP to
the bare full-text lookup plus the bare GET (at p50, and at p95).

``--sqlite-file`` and ``--pg-database`` keep a filled database between runs (filled when missing; brought
to the head and analysed at each run, as a node's worker keeps SQLite's statistics).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import time as clock
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.catalog.categories import CATEGORIES  # noqa: E402
from node.core import db  # noqa: E402
from node.core.timeutil import utcnow  # noqa: E402
from node.market.evaluations import standings  # noqa: E402
from node.market.models import Evaluation, Proposal  # noqa: E402
from node.market.money import Price  # noqa: E402
from node.market.proposals.columns import commune_columns, content_columns  # noqa: E402
from node.market.schedule import WeeklyRecurrence, local_today  # noqa: E402
from node.places.gazetteer import default_gazetteer  # noqa: E402
from node.search import query as text_query  # noqa: E402
from node.search.backends import postgres, sqlite  # noqa: E402
from node.search.engine import search  # noqa: E402
from node.search.filters import parse_search  # noqa: E402

PG_ENV = "ASASAP_TEST_DATABASE_URL"
CENTRES = ("75056", "69123", "13055", "59350", "31555")
VERBS = ("Je propose", "Cherche quelqu'un pour", "Besoin d'aide pour", "Disponible pour", "Je peux faire")
OBJECTS = (
    "le ménage de l'appartement",
    "le repassage des chemises",
    "la tonte de la pelouse",
    "la taille des haies",
    "les courses au marché",
    "la garde des enfants après l'école",
    "l'aide aux devoirs en mathématiques",
    "le dépannage de l'ordinateur",
    "la préparation des repas de la semaine",
    "la promenade du chien",
    "le montage de meubles en kit",
    "l'accompagnement chez le médecin",
    "les papiers administratifs",
    "le nettoyage des vitres",
    "la livraison de linge propre",
)
WHEN = (
    "le mardi matin",
    "en soirée",
    "le week-end",
    "pendant les vacances",
    "chaque semaine",
    "ponctuellement",
)
NAMES = ("Amina", "Bernard", "Chloé", "Dominique", "Élodie", "François", "Hélène", "Karim", "Léa", "Yasmine")
QUERIES: list[dict[str, str]] = [
    {"q": "ménage"},
    {"q": "repassage chemises "},
    {"q": "jardinage ", "commune": "75056", "radius": "20"},
    {"q": "garde d'enfants ", "sort": "distance", "commune": "69123"},
    {"q": "ordi"},
    {"q": "courses", "purpose": "request", "price_max": "25"},
    {"commune": "13055", "radius": "10"},
    {"q": "aide ", "sort": "date"},
]
# Filters worked out from the authors' evaluations and the proposals' schedules (measured apart: before
# the database checked them, each of these read every candidate, 100 to 650 ms here).
FILTERED: list[dict[str, str]] = [
    {"min_reputation": "4"},
    {"q": "ménage", "min_reputation": "4.5"},
    {"q": "aide", "sort": "reputation"},
    {"commune": "75056", "radius": "400", "sort": "reputation"},
    {"weekday": "TU"},
    {"q": "jardinage", "time_of_day": "evening"},
    {"commune": "69123", "radius": "30", "weekday": "SA", "time_of_day": "morning"},
    {"q": "courses", "commune": "75056", "radius": "400", "min_reputation": "4", "weekday": "MO"},
]


def _scratch_pg() -> tuple[str, Callable[[], None]]:
    admin = os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg://")
    name = f"asasap_bench_search_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def _kept_pg(name: str) -> tuple[str, Callable[[], None], bool]:
    """The database ``name`` (created when missing) and whether it already holds proposals."""
    admin = os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists is None:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = admin.rsplit("/", 1)[0] + "/" + name
    filled = False
    if exists is not None:
        probe = create_engine(url)
        with probe.connect() as c:
            migrated = c.execute(text("SELECT to_regclass('proposals') IS NOT NULL")).scalar_one()
            filled = bool(migrated) and bool(c.execute(text("SELECT count(*) FROM proposals")).scalar_one())
            if filled and not c.execute(text("SELECT count(*) FROM evaluations")).scalar_one():
                sys.exit(f"{name} was filled by an older version of this bench (no evaluations): drop it")
        probe.dispose()
    return url, engine.dispose, filled


def _communes() -> list[Any]:
    """About 200 communes with coordinates, around five large cities."""
    gazetteer = default_gazetteer()
    found = []
    for code in CENTRES:
        centre = gazetteer.by_insee(code)
        assert centre is not None
        found += [
            c for c in gazetteer.communes() if c.departement == centre.departement and c.has_coordinates
        ][:40]
    return found


def _schedule(rng: random.Random, today: Any) -> WeeklyRecurrence:
    """Two hours on one to three days of the week, for the next two months."""
    start = rng.choice((8, 9, 10, 14, 16, 18, 19))
    return WeeklyRecurrence(
        weekdays=tuple(sorted(rng.sample(range(7), rng.randint(1, 3)))),
        start_time=clock(start),
        end_time=clock(start + 2),
        first_day=today,
        last_day=today + timedelta(days=60),
    )


def _evaluations(rng: random.Random, authors: list[str]) -> Iterator[Evaluation]:
    """Published evaluations of three authors in five: one to twelve each, mostly good."""
    now = utcnow()
    for author in authors:
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 12)):
                yield Evaluation(
                    ap_id=f"https://c.example/evaluations/{uuid.uuid4()}",
                    agreement_ap_id=f"https://c.example/agreements/{uuid.uuid4()}",
                    evaluator_uri="https://c.example/users/client",
                    evaluated_uri=author,
                    evaluated_role="provider",
                    overall=rng.choice((2, 3, 4, 4, 5, 5, 5)),
                    state="published",
                    published_at=now,
                )


def fill(url: str, count: int) -> None:
    """``count`` open proposals, two in three with a weekly schedule, by 1,000 authors of whom three in
    five have published evaluations, generated from a fixed seed."""
    rng = random.Random(10)
    communes = _communes()
    now = utcnow()
    today = local_today()
    engine = db.make_engine(url)
    db.migrate(engine)
    authors: dict[str, None] = {}
    with Session(engine) as session:
        for i in range(count):
            commune = rng.choice(communes)
            category = rng.choice(CATEGORIES)
            price = Decimal(rng.randint(12, 40))
            title = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}"
            values = content_columns(
                title=title[:120],
                description=f"<p>{title} {rng.choice(WHEN)} à {commune.name}. "
                f"{rng.choice(OBJECTS).capitalize()}.</p>",
                category=category.slug,
                place=commune_columns(commune),
                schedule=_schedule(rng, today) if i % 3 else None,
                quantity=None,
                price=Price(price, "EUR", "per_hour"),
                currency="EUR",
                basis="per_hour",
                bidding_deadline=None,
                expires_at=now + timedelta(days=60),
                author_name=rng.choice(NAMES),
            )
            origin = "" if i % 3 else "b.example"
            base = f"https://{origin}" if origin else "https://bench.example"
            author = f"{base}/users/u{i % 500}"
            authors[author] = None
            session.add(
                Proposal(
                    ap_id=f"{base}/proposals/{uuid.uuid4()}",
                    origin=origin,
                    author_uri=author,
                    purpose="offer" if i % 2 else "request",
                    published_at=now - timedelta(minutes=i),
                    **values,
                )
            )
            if i % 2000 == 1999:
                session.commit()
        session.add_all(_evaluations(rng, list(authors)))
        standings.restate(authors, session=session)  # as the services do when they publish evaluations
        session.commit()
    engine.dispose()


def _evaluated(url: str) -> bool:
    engine = db.make_engine(url)
    with engine.connect() as c:
        found = bool(c.execute(text("SELECT count(*) FROM evaluations")).scalar_one())
    engine.dispose()
    return found


def prepare(url: str) -> None:
    """Bring the database to the head and gather the planner's statistics, as a node's worker does
    (hourly on SQLite; PostgreSQL's autovacuum on its own, which after so many inserts also vacuums the
    table: that moves the GIN indexes' pending entries into the indexes, which every search otherwise
    reads in full)."""
    engine = db.make_engine(url)
    db.migrate(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    else:
        with Session(engine) as session:
            sqlite.refresh_statistics(session=session)
            session.commit()
    engine.dispose()


def _bare(session: Session, q: str) -> int:
    parsed = text_query.parse(q)
    if not parsed:
        return int(session.execute(text("SELECT count(*) FROM proposals")).scalar_one())
    if session.get_bind().dialect.name == "sqlite":
        statement = text("SELECT rowid FROM proposals_fts WHERE proposals_fts MATCH :q")
        return len(session.execute(statement, {"q": sqlite.expression(parsed)}).all())
    statement = text(
        "SELECT id FROM proposals WHERE to_tsvector('asasap_french', search_text) "
        "@@ to_tsquery('asasap_french', :q)"
    )
    return len(session.execute(statement, {"q": postgres.tsquery(parsed)}).all())


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }


def measure(url: str, repeat: int) -> dict[str, Any]:
    engine = db.make_engine(url)
    engine_times: list[float] = []
    bare_times: list[float] = []
    filtered_times: list[float] = []
    totals: dict[str, int] = {}
    with Session(engine) as session:
        for params in FILTERED:
            filters, errors = parse_search(params)
            assert errors == {}, errors
            search(filters, session=session, now=utcnow())  # warm-up
            for _ in range(repeat):
                started = time.perf_counter()
                found = search(filters, session=session, now=utcnow())
                filtered_times.append(time.perf_counter() - started)
                session.rollback()
            totals[json.dumps(params, ensure_ascii=False)] = found.total
        for params in QUERIES:
            filters, errors = parse_search(params)
            assert errors == {}, errors
            search(filters, session=session, now=utcnow())  # warm-up
            _bare(session, filters.q)
            for _ in range(repeat):
                started = time.perf_counter()
                found = search(filters, session=session, now=utcnow())
                engine_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                _bare(session, filters.q)
                bare_times.append(time.perf_counter() - started)
                session.rollback()
            totals[json.dumps(params, ensure_ascii=False)] = found.total
    engine.dispose()
    searched, bare = _percentiles(engine_times), _percentiles(bare_times)
    return {
        "search": searched,
        "filtered": _percentiles(filtered_times),
        "bare_fts": bare,
        "ratio_p50": round(searched["p50_ms"] / max(bare["p50_ms"], 0.001), 1),
        "totals": totals,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    """Wait, a minute at most, until the node started as ``server`` answers ``GET /healthz``."""
    deadline = time.monotonic() + 60
    while True:
        try:
            client.get("/healthz")
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.2)


@contextmanager
def serving(
    url: str, workdir: Path, *, name: str, log_level: str = "warning", quiet: bool = False
) -> Iterator[int]:
    """A node on the database ``url`` (``asasap init``, then ``asasap serve``, no embedded worker, no
    request limits), its port once it answers; stopped after."""
    port = free_port()
    env = {
        **os.environ,
        "ASASAP_DATA_DIR": str(workdir / "data"),
        "ASASAP_DATABASE_URL": url,
        "ASASAP_BASE_URL": f"http://127.0.0.1:{port}",
        "ASASAP_SECRET_KEY": f"bench-{name}-" + "x" * 40,
        "ASASAP_EMBEDDED_WORKER": "false",
        "ASASAP_LOG_LEVEL": log_level,
        "ASASAP_LIMIT_API_REQUESTS_PER_TOKEN_MINUTE": "0",
    }
    cli = [sys.executable, "-m", "node.cli"]
    subprocess.run([*cli, "init", "--json"], env=env, check=True, capture_output=True, timeout=300)
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        start_new_session=True,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_until_serving(client, server)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def measure_http(url: str, repeat: int, workdir: Path) -> dict[str, Any]:
    """The queries through ``GET /api/v1/search`` of a node serving ``url``, and a bare ``/healthz``."""
    api_times: list[float] = []
    bare_times: list[float] = []
    listing_times: list[float] = []
    with serving(url, workdir, name="search") as port:
        # measured with the standard library's client, whose own cost per request is small (httpx's was
        # 0.4 to 0.6 ms of each request here, a bare GET included)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def get(path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
            connection.request("GET", path + (f"?{urlencode(params)}" if params else ""))
            answer = connection.getresponse()
            return answer.status, answer.read()

        for params in QUERIES:
            assert get("/api/v1/search", params)[0] == 200  # warm-up
            for _ in range(repeat):
                started = time.perf_counter()
                status, body = get("/api/v1/search", params)
                api_times.append(time.perf_counter() - started)
                assert status == 200, body
                started = time.perf_counter()
                get("/healthz")
                bare_times.append(time.perf_counter() - started)
                if params.get("q"):  # the plain listing with the same words, newest first
                    started = time.perf_counter()
                    status, body = get("/api/v1/proposals", {"q": params["q"]})
                    listing_times.append(time.perf_counter() - started)
                    assert status == 200, body
        connection.close()
    api, bare = _percentiles(api_times), _percentiles(bare_times)
    return {"http_search": api, "http_bare": bare, "http_listing": _percentiles(listing_times)}


def http_ratios(figures: dict[str, Any]) -> dict[str, float]:
    """The search through HTTP as a ratio to its physical limit in the same run: the bare full-text
    lookup plus a bare GET, at p50 and at p95."""
    api, fts, get = figures["http_search"], figures["bare_fts"], figures["http_bare"]
    return {
        "http_ratio_p50": round(api["p50_ms"] / max(fts["p50_ms"] + get["p50_ms"], 0.001), 2),
        "http_ratio_p95": round(api["p95_ms"] / max(fts["p95_ms"] + get["p95_ms"], 0.001), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--http", action="store_true", help="also through the HTTP API of a real node")
    parser.add_argument(
        "--sqlite-file", type=Path, help="keep the SQLite database in this file, filled only when missing"
    )
    parser.add_argument(
        "--pg-database",
        help="keep the PostgreSQL database under this name, filled only when missing (else a scratch one)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        kept = args.sqlite_file
        url = f"sqlite:///{kept.resolve() if kept else Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        if kept is None or not kept.exists():
            fill(url, args.proposals)
        elif not _evaluated(url):
            sys.exit(f"{kept} was filled by an older version of this bench (no evaluations): delete it")
        prepare(url)
        results["sqlite"] = {"fill_s": round(time.perf_counter() - started, 1), **measure(url, args.repeat)}
        if args.http:
            results["sqlite"].update(measure_http(url, args.repeat, Path(tmp)))
            results["sqlite"].update(http_ratios(results["sqlite"]))
    if os.environ.get(PG_ENV):
        url, drop, filled = _kept_pg(args.pg_database) if args.pg_database else (*_scratch_pg(), False)
        try:
            started = time.perf_counter()
            if not filled:
                fill(url, args.proposals)
            prepare(url)
            results["postgresql"] = {
                "fill_s": round(time.perf_counter() - started, 1),
                **measure(url, args.repeat),
            }
            if args.http:
                with tempfile.TemporaryDirectory() as tmp:
                    results["postgresql"].update(measure_http(url, args.repeat, Path(tmp)))
                results["postgresql"].update(http_ratios(results["postgresql"]))
        finally:
            drop()
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for backend, figures in results.items():
        print(
            f"{backend}: {args.proposals} proposals (filled in {figures['fill_s']} s); search p50 "
            f"{figures['search']['p50_ms']} ms, p95 {figures['search']['p95_ms']} ms; bare full-text "
            f"p50 {figures['bare_fts']['p50_ms']} ms, p95 {figures['bare_fts']['p95_ms']} ms; "
            f"ratio at p50 {figures['ratio_p50']}; by reputation or availability p50 "
            f"{figures['filtered']['p50_ms']} ms, p95 {figures['filtered']['p95_ms']} ms"
        )
        if "http_search" in figures:
            api, bare = figures["http_search"], figures["http_bare"]
            print(
                f"  HTTP GET /api/v1/search p50 {api['p50_ms']} ms, p95 {api['p95_ms']} ms; "
                f"bare GET /healthz p50 {bare['p50_ms']} ms; GET /api/v1/proposals?q= p50 "
                f"{figures['http_listing']['p50_ms']} ms; ratio to bare full-text + bare GET: "
                f"{figures['http_ratio_p50']} at p50, {figures['http_ratio_p95']} at p95"
            )
        for query, total in figures["totals"].items():
            print(f"  {total:6d}  {query}")


if __name__ == "__main__":
    main()
