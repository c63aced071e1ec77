"""Page latency: the main pages of a real node (``asasap serve``, SQLite), logged out and logged in, as a
ratio to a bare static response (``/static/site.css``) of the same server, measured in the same run.

    .venv/bin/python bench/pages.py [--proposals 200] [--repeat 50] [--json]

The node is filled through its API (one provider, ``--proposals`` offers with ratings-free authors);
each page is fetched ``--repeat`` times after a warm-up, one request at a time on one keep-alive
connection, and the figures are the p50 and p95 of the wall time of each request. The static file goes
through the same server stack and middleware without a template or a database: the ratio is what
rendering a page costs beyond answering at all.
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

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.accounts import PASSWORD  # noqa: E402
from tests.support.market import proposal_fields  # noqa: E402
from tests.support.nodes import Node, NodeProcess  # noqa: E402
from tests.support.pages import form_token  # noqa: E402

BARE = "/static/site.css"
LOGGED_OUT = ("/", "/proposals", "/login")
LOGGED_IN = ("/", "/proposals", "/me", "/me/proposals", "/conversations", "/notifications")


def _times(client: httpx.Client, path: str, repeat: int) -> list[float]:
    for _ in range(3):  # warm-up
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, path
    return times


def _figures(times: list[float], bare: float) -> dict[str, float]:
    times = sorted(times)
    p50 = statistics.median(times)
    return {"p50_ms": p50 * 1000, "p95_ms": times[int(len(times) * 0.95) - 1] * 1000, "ratio": p50 / bare}


def _log_in(client: httpx.Client, username: str) -> None:
    token = form_token(client.get("/login").text, "/login")
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text


def run(proposals: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        process = NodeProcess(
            Path(folder) / "node",
            f"sqlite:///{folder}/node.db",
            extra_env={"ASASAP_LIMIT_PROPOSALS_PER_PERSON_DAY": "0"},  # filled faster than people post
        )
        process.cli("migrate")
        process.init()
        process.start()
        try:
            node = Node(process)
            node.add_person("bob")
            status = {"provider_status": "private_individual", "offers_services": True}
            node.ok("PATCH", "/me", status, user="bob")
            for number in range(proposals):
                node.ok("POST", "/proposals", proposal_fields("offer", f"Repassage no {number}"), user="bob")
            results: dict[str, Any] = {"proposals": proposals, "repeat": repeat, "pages": {}}
            with httpx.Client(base_url=node.url, timeout=30) as client:
                bare = statistics.median(_times(client, BARE, repeat))
                results["bare_p50_ms"] = bare * 1000
                first = client.get("/proposals").text.split('<h3><a href="', 1)[1].split('"', 1)[0]
                for path in (*LOGGED_OUT, first):
                    results["pages"][f"logged out {path}"] = _figures(_times(client, path, repeat), bare)
                _log_in(client, "bob")
                for path in (*LOGGED_IN, first):
                    results["pages"][f"logged in {path}"] = _figures(_times(client, path, repeat), bare)
            return results
        finally:
            process.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.proposals, args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"bare static response: p50 {results['bare_p50_ms']:.2f} ms ({args.proposals} proposals)")
    print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'ratio':>7}")
    for name, figures in results["pages"].items():
        print(f"{name[:40]:40} {figures['p50_ms']:8.2f} {figures['p95_ms']:8.2f} {figures['ratio']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
