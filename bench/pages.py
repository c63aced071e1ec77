"""Page latency: the main pages of a real node (``asasap serve``, SQLite), logged out and logged in, as
ratios to a bare static response (``/static/site.css``) of the same server and to a bare template render
(the layout every page extends, with an empty content, through the node's own Jinja environment),
both measured in the same run.

    .venv/bin/python bench/pages.py [--proposals 200] [--repeat 50] [--json]

The node is filled through its API (one provider, ``--proposals`` offers with ratings-free authors);
each page is fetched ``--repeat`` times after a warm-up, one request at a time on one keep-alive
connection, and the figures are the p50 and p95 of the wall time of each request. The static file goes
through the same server stack and middleware without a template or a database: the ratio to it is what
rendering a page costs beyond answering at all. The bare template render is timed in this process, on
an environment built by the node's own code from the node's settings: the ratio to it counts a page in
layouts rendered. On a loaded machine wall times grow with the queue for the CPU, so each page's figures
also give the server process's CPU time per request (``/proc/<pid>/stat``, in clock ticks: meaningful
over many requests, and including the embedded worker's polling).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.app import create_app  # noqa: E402
from node.core.i18n import current_language  # noqa: E402
from node.settings import load_settings  # noqa: E402
from tests.support.accounts import PASSWORD  # noqa: E402
from tests.support.market import proposal_fields  # noqa: E402
from tests.support.nodes import Node, NodeProcess  # noqa: E402
from tests.support.pages import form_token  # noqa: E402

BARE = "/static/site.css"
BARE_TEMPLATE = '{% extends "base.html" %}{% block content %}{% endblock %}'
LOGGED_OUT = ("/", "/proposals", "/login")
LOGGED_IN = ("/", "/proposals", "/me", "/me/proposals", "/conversations", "/notifications")


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system, every thread) the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _times(client: httpx.Client, path: str, repeat: int, pid: int) -> tuple[list[float], float]:
    """The wall time of each of ``repeat`` requests, and the server's CPU time per request."""
    for _ in range(3):  # warm-up
        assert client.get(path).status_code == 200, path
    times = []
    cpu = _cpu_seconds(pid)
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, path
    return times, (_cpu_seconds(pid) - cpu) / repeat


def _figures(measured: tuple[list[float], float], bare: float, template: float) -> dict[str, float]:
    times, cpu = sorted(measured[0]), measured[1]
    p50 = statistics.median(times)
    return {
        "p50_ms": p50 * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
        "ratio": p50 / bare,
        "template_ratio": p50 / template,
        "server_cpu_ms": cpu * 1000,
    }


def _bare_template(env: dict[str, str], repeat: int) -> float:
    """The p50 of rendering :data:`BARE_TEMPLATE` logged out, through the Jinja environment the node's
    own code builds from the node's settings (the node's database is only checked, not read)."""
    node = create_app(load_settings(env=env)).state.node
    template = node.templates.from_string(BARE_TEMPLATE)
    request = Request({"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []})
    context = {"request": request, "user": None, "lang": "fr", "settings": node.settings, "csrf_token": "x"}
    token = current_language.set("fr")
    try:
        template.render(**context)  # warm-up
        times = []
        for _ in range(max(repeat, 200)):
            start = time.perf_counter()
            template.render(**context)
            times.append(time.perf_counter() - start)
    finally:
        current_language.reset(token)
    return statistics.median(times)


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
            results["loadavg_before"] = Path("/proc/loadavg").read_text().split()[:3]
            assert process.process is not None
            pid = process.process.pid
            template = _bare_template(process.env, repeat)
            results["bare_template_p50_ms"] = template * 1000
            with httpx.Client(base_url=node.url, timeout=30) as client:
                static = _times(client, BARE, repeat, pid)
                bare = statistics.median(static[0])
                results["bare_p50_ms"] = bare * 1000
                results["bare_server_cpu_ms"] = static[1] * 1000
                first = client.get("/proposals").text.split('<h3><a href="', 1)[1].split('"', 1)[0]
                for path in (*LOGGED_OUT, first):
                    measured = _times(client, path, repeat, pid)
                    results["pages"][f"logged out {path}"] = _figures(measured, bare, template)
                _log_in(client, "bob")
                for path in (*LOGGED_IN, first):
                    measured = _times(client, path, repeat, pid)
                    results["pages"][f"logged in {path}"] = _figures(measured, bare, template)
            results["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
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
    before, after = " ".join(results["loadavg_before"]), " ".join(results["loadavg_after"])
    print(f"load average before {before}, after {after}")
    print(
        f"bare static response: p50 {results['bare_p50_ms']:.2f} ms, server CPU "
        f"{results['bare_server_cpu_ms']:.2f} ms; bare template render: p50 "
        f"{results['bare_template_p50_ms']:.3f} ms ({args.proposals} proposals)"
    )
    print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'/static':>8} {'/tmpl':>7} {'cpu ms':>7}")
    for name, f in results["pages"].items():
        print(
            f"{name[:40]:40} {f['p50_ms']:8.2f} {f['p95_ms']:8.2f} {f['ratio']:8.1f} "
            f"{f['template_ratio']:7.1f} {f['server_cpu_ms']:7.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
