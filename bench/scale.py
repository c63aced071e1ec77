"""Scale-out on PostgreSQL: inbox and delivery rates of one node with 1 and 2 processes of each kind.

    ASASAP_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/scale.py

- **Inbox, by web processes.** One node (its embedded worker off) runs 1, then 2 ``asasap serve``
  processes on one PostgreSQL database; the load generator of ``bench/inbox.py`` sends the same
  pre-signed Mastodon-shaped ``Create(Note)`` activities, split evenly over the processes' ports (as a
  reverse proxy would), every request carrying the node's public Host. The rate is accepted (202)
  activities per second, from the first request to the last answer.
- **Deliveries, by workers.** ``activities × recipients`` deliveries are published (as in
  ``bench/delivery.py``) to distinct inboxes of a local sink, then 1, then 2 ``asasap worker``
  processes deliver them; the rate is deliveries per second from the first one the sink receives to
  the last.

Each figure comes with its ratio to the single-process rate measured in the same run: the physical
limit of that ratio on this machine is its number of cores shared with the load generator and the
sink, so on 2 vCPU the ideal is well under 2. Rates are medians of ``--rounds``. Only loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import delivery, inbox  # noqa: E402 - bench/ is run as scripts: the root goes on the path first

SECRET = "bench-scale-secret-key-0123456789-0123456789-0123456789"


def _env(database_url: str, data_dir: Path, base_port: int, secret: str = SECRET) -> dict[str, str]:
    return {
        **os.environ,
        "ASASAP_DATA_DIR": str(data_dir),
        "ASASAP_DATABASE_URL": database_url,
        "ASASAP_BASE_URL": f"http://127.0.0.1:{base_port}",
        "ASASAP_SECRET_KEY": secret,
        "ASASAP_ALLOW_PRIVATE_ADDRESSES": "true",
        "ASASAP_EMBEDDED_WORKER": "false",
        "ASASAP_LOG_LEVEL": "warning",
        "ASASAP_LIMIT_API_REQUESTS_PER_TOKEN_MINUTE": "0",
    }


def _split_load(ports: list[int], requests: list[bytes], concurrency: int, seconds: float) -> float:
    """Send ``requests`` spread over ``ports`` at once; accepted per second over the whole."""
    parts = [requests[index :: len(ports)] for index in range(len(ports))]
    results: list[tuple[float, inbox.Load]] = []
    start = time.perf_counter()
    threads = [
        threading.Thread(
            target=lambda port=port, part=part: results.append(
                inbox.run_load(port, part, max(1, concurrency // len(ports)), seconds)
            )
        )
        for port, part in zip(ports, parts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    accepted = sum(load.statuses.get(202, 0) for _, load in results)
    return accepted / elapsed


def inbox_rates(args: argparse.Namespace, workdir: Path) -> dict[int, list[float]]:
    """Accepted activities per second with 1 and 2 web processes, per round."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    ports = [inbox.free_port(), inbox.free_port()]
    actor_port = inbox.free_port()
    actor_base = f"http://127.0.0.1:{actor_port}"
    actors = [inbox.new_actor((f"actor{i}", actor_base)) for i in range(args.actors)]
    host = f"127.0.0.1:{ports[0]}"
    warmup = inbox.presign(actors, 100, host, "/inbox", 2)
    requests = inbox.presign(actors, args.requests, host, "/inbox", 2)
    cli = [sys.executable, "-m", "node.cli"]
    with delivery.scratch_database("postgresql", workdir) as url, inbox.ActorServer(actor_port) as server:
        for actor in actors:
            server.documents[f"/users/{actor.name}"] = json.dumps(actor.document()).encode()
        env = _env(url, workdir / "inbox-node", ports[0])
        subprocess.run([*cli, "init", "--json"], env=env, check=True, capture_output=True, timeout=300)
        for _ in range(args.rounds):
            for count in (1, 2):
                servers = [
                    subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, start_new_session=True)
                    for port in ports[:count]
                ]
                try:
                    for port, process in zip(ports, servers, strict=False):
                        inbox.wait_ready(f"http://127.0.0.1:{port}/healthz", process)
                        inbox.run_load(port, warmup, 8, args.seconds)  # each process caches the keys
                    inbox.count_rows(url, clear=True)
                    rates[count].append(_split_load(ports[:count], requests, args.concurrency, args.seconds))
                    inbox.count_rows(url, clear=True)
                finally:
                    for process in servers:
                        inbox.stop(process)
    return rates


def delivery_rates(args: argparse.Namespace, workdir: Path) -> dict[int, list[float]]:
    """Deliveries per second with 1 and 2 worker processes, per round."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    total = args.activities * args.recipients
    deadline = time.monotonic() + args.seconds * 10
    with delivery.running_sink(deadline) as sink:
        for _ in range(args.rounds):
            for count in (1, 2):
                with delivery.scratch_database("postgresql", workdir) as url:
                    settings, engine, _ = delivery.prepare(
                        url, sink, workdir, args.activities, args.recipients
                    )
                    engine.dispose()
                    before = delivery.sink_count(sink)
                    env = _env(url, workdir / "delivery-node", 9, settings.secret_key)
                    env["ASASAP_BASE_URL"] = settings.base_url
                    workers = [
                        subprocess.Popen(
                            [sys.executable, "-m", "node.cli", "worker"], env=env, start_new_session=True
                        )
                        for _ in range(count)
                    ]
                    try:
                        limit = time.monotonic() + args.seconds
                        while delivery.sink_count(sink) == before and time.monotonic() < limit:
                            time.sleep(0.005)
                        start = time.perf_counter()
                        while delivery.sink_count(sink) - before < total and time.monotonic() < limit:
                            time.sleep(0.01)
                        done = delivery.sink_count(sink) - before
                        rates[count].append(done / (time.perf_counter() - start))
                    finally:
                        for worker in workers:
                            inbox.stop(worker)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=4000, help="signed activities per inbox run")
    parser.add_argument("--actors", type=int, default=20, help="remote actors sending them")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections in all")
    parser.add_argument("--activities", type=int, default=40, help="activities published per delivery run")
    parser.add_argument("--recipients", type=int, default=50, help="distinct inboxes each goes to")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60, help="time limit of each measured run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("ASASAP_TEST_DATABASE_URL"):
        print("bench/scale.py needs PostgreSQL: set ASASAP_TEST_DATABASE_URL", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="asasap-bench-scale-"))
    load_before = os.getloadavg()[0]
    inboxes = inbox_rates(args, workdir)
    deliveries = delivery_rates(args, workdir)
    result: dict[str, Any] = {"load_before": round(load_before, 2), "cores": os.cpu_count()}
    for name, rates in (("inbox", inboxes), ("deliveries", deliveries)):
        one, two = statistics.median(rates[1]), statistics.median(rates[2])
        result[name] = {"1": round(one), "2": round(two), "ratio": round(two / one, 2), "rounds": rates}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"machine: {result['cores']} cores, load {result['load_before']} before")
    print(
        f"inbox, accepted/s:   1 web process {result['inbox']['1']:>6}, 2: {result['inbox']['2']:>6}, "
        f"ratio {result['inbox']['ratio']}"
    )
    print(
        f"deliveries/s:        1 worker      {result['deliveries']['1']:>6}, "
        f"2: {result['deliveries']['2']:>6}, ratio {result['deliveries']['ratio']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
