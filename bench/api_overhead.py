"""The fixed cost of an API GET: a real ``asasap serve`` on an existing database, asked over one
keep-alive connection, in turn, for

- ``/healthz`` (the middleware and the router, no API layer, no database),
- ``/api/v1/node`` (the API layer: operation wrapper, pydantic answer; no database),
- ``/api/v1/groups?q=zzzqqq`` (the API layer and one read transaction finding nothing),
- ``/api/v1/search?q=zzzqqq`` (a search matching nothing).

    .venv/bin/python bench/api_overhead.py --sqlite-file /tmp/copy.db [--repeat 400] [--json]
    ASASAP_TEST_DATABASE_URL=postgresql://... .venv/bin/python bench/api_overhead.py [--repeat 400]

The database must exist (``asasap init`` runs on it first: it migrates and adds the node's keys, so give
a copy of a shared database). The figures are the p50 and p95 of ``--repeat`` rounds after a warm-up,
the endpoints interleaved within each round so that a change of load touches them all alike. ``--log-level``
(``info`` by default, as a node runs) is that of the server.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PG_ENV = "ASASAP_TEST_DATABASE_URL"
PATHS = {
    "healthz": "/healthz",
    "api_no_db": "/api/v1/node",
    "api_one_read": "/api/v1/groups?q=zzzqqq",
    "search_nothing": "/api/v1/search?q=zzzqqq",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3),
    }


def measure(url: str, repeat: int, workdir: Path, log_level: str) -> dict[str, dict[str, float]]:
    port = _free_port()
    env = {
        **os.environ,
        "ASASAP_DATA_DIR": str(workdir / "data"),
        "ASASAP_DATABASE_URL": url,
        "ASASAP_BASE_URL": f"http://127.0.0.1:{port}",
        "ASASAP_SECRET_KEY": "bench-api-" + "x" * 40,
        "ASASAP_EMBEDDED_WORKER": "false",
        "ASASAP_LOG_LEVEL": log_level,
    }
    cli = [sys.executable, "-m", "node.cli"]
    subprocess.run([*cli, "init", "--json"], env=env, check=True, capture_output=True, timeout=300)
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, start_new_session=True, stderr=subprocess.DEVNULL
    )
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.2)
            for _ in range(20):  # warm-up: connections of the pool, caches, the first statements
                for path in PATHS.values():
                    answer = client.get(path)
                    assert answer.status_code == 200, (path, answer.status_code, answer.text)
            for _ in range(repeat):
                for name, path in PATHS.items():
                    started = time.perf_counter()
                    client.get(path)
                    times[name].append(time.perf_counter() - started)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    return {name: _percentiles(samples) for name, samples in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite-file", type=Path, help="an existing SQLite database (a copy: init writes)")
    parser.add_argument("--repeat", type=int, default=400)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.sqlite_file is not None:
        url = f"sqlite:///{args.sqlite_file.resolve()}"
    elif os.environ.get(PG_ENV):
        url = os.environ[PG_ENV]
    else:
        parser.error(f"give --sqlite-file or set {PG_ENV}")
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(url, args.repeat, Path(tmp), args.log_level)
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"load": [round(x, 2) for x in load], **results}))
        return
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for name, figures in results.items():
        print(f"{name:16} {PATHS[name]:28} p50 {figures['p50_ms']:7.3f} ms  p95 {figures['p95_ms']:7.3f} ms")


if __name__ == "__main__":
    main()
