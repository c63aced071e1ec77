"""``asasap demo`` (what ``make demo`` runs) as a real process: three nodes federate and get seeded; the
pages are French, the printed logins work, every node shows the other nodes' proposals and the same
reputation; Ctrl-C stops cleanly; a second run keeps the data and seeds nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.cli import main
from node.demo.accounts import DEMO_PASSWORD
from node.demo.loader import load_demo
from tests.support.nodes import free_port
from tests.support.pages import form_token

READY = "demo data ready"
ALREADY = "demo data already in place"
STARTUP_LIMIT = 120.0  # seconds: accounts, three servers and the seeding, on a slow machine


class Demo:
    """``asasap demo`` running in its own process group; its output collected line by line."""

    def __init__(self, root: Path, ports: list[int]) -> None:
        self.ports = ports
        self.slugs = [node.slug for node in load_demo().nodes]
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "node.cli",
                "demo",
                "--dir",
                str(root),
                "--ports",
                ",".join(map(str, ports)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = STARTUP_LIMIT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert "✗" not in self.output, self.output
            assert self.process.poll() is None or text in self.output, self.output
            assert time.monotonic() < deadline, f"no {text!r} within {timeout:.0f} s:\n{self.output}"
            time.sleep(0.2)

    def interrupt(self) -> int:
        """Ctrl-C; the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            code = self.process.wait()
        self.reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def url(self, slug: str) -> str:
        return f"http://127.0.0.1:{self.ports[self.slugs.index(slug)]}"

    def domain(self, slug: str) -> str:
        return self.url(slug).split("://", 1)[1]


def three_ports() -> list[int]:
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@contextlib.contextmanager
def logged_in(base: str, username: str) -> Iterator[httpx.Client]:
    """A client logged in as ``username`` with the printed demo password."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as http:
        token = form_token(http.get("/login").text, "/login")
        response = http.post(
            "/login", data={"csrf_token": token, "username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 303, (base, username, response.text[:500])
        yield http


def remote_proposals(base: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page: int | None = 1
    while page is not None and page < 10:
        listing = httpx.get(f"{base}/api/v1/proposals", params={"origin": "remote", "page": page}, timeout=10)
        assert listing.status_code == 200, listing.text
        found += listing.json()["items"]
        page = listing.json()["next_page"]
    return found


def reputation(base: str, handle: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/v1/actors/{handle}/reputation", timeout=10)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.process
def test_demo_federates_three_seeded_nodes_and_stops_cleanly(tmp_path: Path) -> None:
    data = load_demo()
    demo = Demo(tmp_path / "demo", three_ports())
    try:
        demo.wait_for(READY)
        demo.wait_for("Ctrl-C pour arrêter / to stop")
        slugs = [node.slug for node in data.nodes]
        for node in data.nodes:
            home = httpx.get(demo.url(node.slug) + "/", timeout=10)
            assert home.status_code == 200 and '<html lang="fr">' in home.text and node.name in home.text
            assert demo.url(node.slug) in demo.output
        assert DEMO_PASSWORD in demo.output and "Ctrl-C pour arrêter / to stop" in demo.output

        # Node A lists the proposals of the two other nodes, and only theirs.
        montreuil = demo.url("montreuil")
        origins = {item["origin"] for item in remote_proposals(montreuil)}
        assert origins == {demo.domain("bagnolet"), demo.domain("cooperative")}

        # The completed agreement, on the holder's node and on the mirror.
        author_node, demand = data.proposal_named(data.agreement.proposal)
        bidder_node = next(
            b.node for b in data.bids if (b.proposal, b.bidder) == (demand.key, data.agreement.bidder)
        )
        for slug, username in ((author_node.slug, demand.author), (bidder_node, data.agreement.bidder)):
            with logged_in(demo.url(slug), username) as http:
                page = http.get("/me/agreements").text
                assert demand.title in page and "Terminé" in page, page
        for slug in slugs:
            with logged_in(demo.url(slug), "admin") as http:
                assert http.get("/admin").status_code == 200  # an administrator's page

        # Both evaluations are published: the reputations read the same on the three nodes.
        provider = f"{data.agreement.bidder}@{demo.domain(bidder_node)}"
        requester = f"{demand.author}@{demo.domain(author_node.slug)}"
        for handle, mean in ((provider, "5.00"), (requester, "4.00")):
            seen = [reputation(demo.url(slug), handle) for slug in slugs]
            assert seen[0]["count"] == 1 and seen[0]["mean"] == mean, seen[0]
            assert seen == [seen[0]] * 3
        listed = len(remote_proposals(montreuil))
    finally:
        code = demo.interrupt()
    assert code == 0, demo.output
    assert "Traceback" not in demo.output and "nodes stopped" in demo.output, demo.output

    # A second run keeps the data and seeds nothing.
    again = Demo(tmp_path / "demo", demo.ports)
    try:
        again.wait_for(ALREADY)
        assert "seeding the marketplace" not in again.output
        assert len(remote_proposals(montreuil)) == listed
        with logged_in(again.url("cooperative"), "yasmine") as http:
            assert "Yasmine Cherif" in http.get("/settings/profile").text
    finally:
        code = again.interrupt()
    assert code == 0 and "Traceback" not in again.output, again.output


def test_demo_data_keeps_its_addresses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "demo")
    assert main(["demo", "--dir", root, "--no-serve", "--ports", "18201,18202,18203"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:18202" in out and DEMO_PASSWORD in out and "fatou" in out
    # Other ports would contradict every ActivityPub id already made: refused, unless --reset.
    assert main(["demo", "--dir", root, "--no-serve", "--base-port", "18301"]) == 1
    assert "--reset" in capsys.readouterr().err
    assert main(["demo", "--dir", root, "--no-serve", "--ports", "18301,18301,18302"]) == 1
    assert main(["demo", "--dir", root, "--no-serve", "--base-port", "18301", "--reset"]) == 0
    assert "http://127.0.0.1:18303" in capsys.readouterr().out
