"""The fixed cost of an API GET: a real ``asasap serve`` on an existing database, asked over one
keep-alive connection, in turn, for

- ``/healthz`` (the middleware and the router, no API layer, no database),
- ``/api/v1/node`` (the API layer: operation wrapper, pydantic answer; no database),
- ``/api/v1/groups?q=zzzqqq`` (the API layer and one read transaction finding nothing),
- ``/api/v1/search?q=zzzqqq`` (a search matching nothing).

    .venv/bin/python bench/api_overhead.py --sqlite-file /tmp/copy.db [--repeat 400] [--json]
    ASASAP_TEST_DATABASE_URL=postgresql://... .venv/bin/python bench/api_overhead.py [--repeat 400]

With ``--in-process`` the same requests are made to the application's ASGI callable in this process
(no socket, no HTTP parsing, the worker thread hop kept), timed by the clock and by the process's CPU
time, which a loaded machine disturbs less.

The database must exist (``asasap init`` runs on it first: it migrates and adds the node's keys, so give
a copy of a shared database). The figures are the p50 and p95 of ``--repeat`` rounds after a warm-up,
the endpoints interleaved within each round so that a change of load touches them all alike. ``--log-level``
(``info`` by default, as a node runs) is that of the server; ``--only healthz,api_one_read`` times only
those requests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search import serving  # noqa: E402 - bench/ is run as scripts: the root goes on the path first

PG_ENV = "ASASAP_TEST_DATABASE_URL"
PATHS = {
    "healthz": "/healthz",
    "api_no_db": "/api/v1/node",
    "api_one_read": "/api/v1/groups?q=zzzqqq",
    "search_nothing": "/api/v1/search?q=zzzqqq",
}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3),
    }


def measure(
    url: str, repeat: int, workdir: Path, log_level: str, paths: dict[str, str]
) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {name: [] for name in paths}
    with serving(url, workdir, name="api", log_level=log_level, quiet=True) as port:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(20):  # warm-up: connections of the pool, caches, the first statements
                for path in paths.values():
                    answer = client.get(path)
                    assert answer.status_code == 200, (path, answer.status_code, answer.text)
            for _ in range(repeat):
                for name, path in paths.items():
                    started = time.perf_counter()
                    client.get(path)
                    times[name].append(time.perf_counter() - started)
    return {name: _percentiles(samples) for name, samples in times.items()}


def _scope(path: str) -> dict[str, Any]:
    route, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def measure_in_process(
    url: str, repeat: int, workdir: Path, log_level: str, paths: dict[str, str]
) -> dict[str, dict[str, float]]:
    """The requests made to the application itself; p50/p95 of the clock, mean of the CPU time."""
    import asyncio

    from node.app import create_app
    from node.core import logs
    from node.settings import load_settings

    settings = load_settings(
        env={},
        data_dir=workdir / "data",
        database_url=url,
        secret_key="bench-api-" + "x" * 40,
        base_url="http://127.0.0.1:8000",
        embedded_worker=False,
        log_level=log_level,
    )
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    times: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, float] = dict.fromkeys(paths, 0.0)

    async def get(path: str) -> None:
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await app(_scope(path), receive, send)
        assert sent[0]["status"] == 200, (path, sent[0]["status"])

    async def run() -> None:
        for _ in range(20):
            for path in paths.values():
                await get(path)
        for _ in range(repeat):
            for name, path in paths.items():
                started, used = time.perf_counter(), time.process_time()
                await get(path)
                times[name].append(time.perf_counter() - started)
                cpu[name] += time.process_time() - used

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(run())
    return {
        name: {**_percentiles(samples), "cpu_ms": round(cpu[name] / repeat * 1000, 3)}
        for name, samples in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite-file", type=Path, help="an existing SQLite database (a copy: init writes)")
    parser.add_argument("--repeat", type=int, default=400)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--only", help="comma-separated names of the requests to time (default: all)")
    parser.add_argument("--in-process", action="store_true", help="call the ASGI application, no server")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.sqlite_file is not None:
        url = f"sqlite:///{args.sqlite_file.resolve()}"
    elif os.environ.get(PG_ENV):
        url = os.environ[PG_ENV]
    else:
        parser.error(f"give --sqlite-file or set {PG_ENV}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: PATHS[name] for name in (args.only.split(",") if args.only else PATHS)}
        how = measure_in_process if args.in_process else measure
        results = how(url, args.repeat, Path(tmp), args.log_level, paths)
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"load": [round(x, 2) for x in load], **results}))
        return
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, figures in results.items():
        cpu = f"  CPU {figures['cpu_ms']:7.3f} ms" if "cpu_ms" in figures else ""
        p50, p95 = figures["p50_ms"], figures["p95_ms"]
        print(f"{name:16} {PATHS[name]:28} p50 {p50:7.3f} ms  p95 {p95:7.3f} ms{cpu}")


if __name__ == "__main__":
    main()
