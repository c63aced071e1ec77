"""``asasap demo`` (what ``make demo`` runs): a French home page served, and the printed logins work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from node.demo import DEMO_PASSWORD
from tests.processes import free_port

pytestmark = pytest.mark.process


def test_demo_serves_french_pages_and_its_logins_work(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "demo", "--dir", str(tmp_path / "demo"), "--base-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                home = httpx.get(base + "/", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the demo did not start"
                time.sleep(0.2)
        assert (
            home.status_code == 200 and '<html lang="fr">' in home.text and "Montreuil Services" in home.text
        )
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as http:
            page = http.get("/login").text
            token = re.search(
                r'action="/login">\s*<input type="hidden" name="csrf_token" value="([0-9a-f]+)"', page
            )
            assert token, page
            for username in ("admin", "amina", "bernard"):
                logged = http.post(
                    "/login",
                    data={
                        "csrf_token": token.group(1),
                        "username": username,
                        "password": DEMO_PASSWORD,
                    },
                )
                assert logged.status_code == 303, (username, logged.text[:500])
            assert "Bernard" in http.get("/users/bernard").text
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            output = process.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode()
    assert base in output and DEMO_PASSWORD in output and "amina" in output
