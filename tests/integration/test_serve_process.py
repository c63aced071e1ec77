"""A real ``asasap serve`` process, spoken to over HTTP on loopback (one node per backend for the
module: the tests do not depend on each other's traces)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.nodes import NodeProcess

pytestmark = pytest.mark.process

REGISTRATIONS_PER_HOUR = 3


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[NodeProcess]:
    process = NodeProcess(
        tmp_path_factory.mktemp("node"),
        module_database_url,
        extra_env={
            "ASASAP_NODE_NAME": "Bagnolet Entraide",
            "ASASAP_HEADER_TIMEOUT_SECONDS": "2",
            "ASASAP_BODY_TIMEOUT_SECONDS": "2",
            "ASASAP_LIMIT_REGISTRATIONS_PER_ADDRESS_HOUR": str(REGISTRATIONS_PER_HOUR),
        },
    )
    process.init("--admin", "chef", "--password-stdin", stdin=PASSWORD)
    process.start()
    yield process
    process.stop()


def register(http: httpx.Client, username: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Fill in and send the registration form as ``username``."""
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', http.get("/register").text)
    assert token
    return http.post(
        "/register",
        data={
            "csrf_token": token.group(1),
            "username": username,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
        headers=headers,
    )


def test_real_server_serves_pages_api_and_sessions(node: NodeProcess) -> None:
    with httpx.Client(base_url=node.base_url, follow_redirects=False, timeout=10) as http:
        home = http.get("/")
        assert home.status_code == 200 and "Bagnolet Entraide" in home.text
        assert home.headers["x-content-type-options"] == "nosniff"
        registered = register(http, "amina")
        assert registered.status_code == 303
        assert http.get("/settings/account").status_code == 200
        assert http.get("/api/v1/openapi.json").json()["openapi"].startswith("3.1")
        assert http.get("/api/v1/me").status_code == 401
        assert http.get("/nothing", headers={"Accept": "application/json"}).status_code == 404
    api_token = node.cli("user", "token", "amina").stdout.strip()
    me = httpx.get(node.base_url + "/api/v1/me", headers={"Authorization": f"Bearer {api_token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "amina"
    assert me.json()["url"] == f"{node.base_url}/users/amina"


def test_server_survives_malformed_requests(node: NodeProcess) -> None:
    with httpx.Client(base_url=node.base_url, timeout=10) as http:
        assert http.post(
            "/login", content=b"\xff\xfe garbage", headers={"Content-Type": "multipart/form-data"}
        ).status_code in (400, 403)
        assert (
            http.post(
                "/api/v1/tokens",
                content=b"{",
                headers={"Content-Type": "application/json", "Authorization": "Bearer asa_x"},
            ).status_code
            == 401
        )
        big = http.post(
            "/register",
            content=b"x" * 2_000_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert big.status_code == 413
        assert http.get("/").status_code == 200


def _silent_for(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sends within ``seconds`` (b"" once it closed the connection), or None."""
    sock.settimeout(seconds)
    try:
        return sock.recv(4096)
    except TimeoutError:
        return None


def test_slow_and_vanishing_clients(node: NodeProcess) -> None:
    host, port = "127.0.0.1", node.port
    with socket.create_connection((host, port)) as slow_headers:
        slow_headers.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        assert _silent_for(slow_headers, 10) == b""  # cut off, without an answer
        assert time.monotonic() - started < 8
    with socket.create_connection((host, port)) as slow_body:
        slow_body.sendall(
            b"POST /inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/activity+json\r\n"
            b'Content-Length: 100\r\n\r\n{"type": '
        )
        answer = _silent_for(slow_body, 10) or b""
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    for _ in range(3):  # uploads abandoned half-way: one log line each, no traceback
        with socket.create_connection((host, port)) as gone:
            gone.sendall(
                b"POST /inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/activity+json\r\n"
                b"Content-Length: 5000\r\n\r\n" + b"{" * 100
            )
    deadline = time.monotonic() + 10
    while node.log_text().count("disconnected before sending its whole request") < 3:
        assert time.monotonic() < deadline, node.log_tail()
        time.sleep(0.1)
    assert "Traceback" not in node.log_text() and "ClientDisconnect" not in node.log_text()
    assert httpx.get(node.base_url + "/healthz", timeout=10).json() == {"ok": True}


def test_health_readiness_metrics_and_request_ids(node: NodeProcess) -> None:
    deadline = time.monotonic() + 30
    while (ready := httpx.get(node.base_url + "/readyz", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline, ready.text  # the embedded worker beats within seconds
        time.sleep(0.2)
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"] and checks["worker"]["alive"] >= 1
    sent = httpx.get(node.base_url + "/", headers={"X-Request-Id": "proxy-id-0123456789"}, timeout=10)
    assert sent.headers["x-request-id"] == "proxy-id-0123456789"
    made = httpx.get(node.base_url + "/", headers={"X-Request-Id": "bad id; with spaces"}, timeout=10)
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    metrics = httpx.get(node.base_url + "/metrics", timeout=10)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'asasap_http_requests_total{method="GET",route="/",status="200"}' in metrics.text
    assert 'asasap_processes{role="worker"} 1' in metrics.text
    assert 'asasap_queue_depth{queue="deliveries",state="pending"}' in metrics.text
    assert 'asasap_queue_depth{queue="mail",state="waiting"} 0' in metrics.text
    assert "proxy-id" not in metrics.text and "/users/amina" not in metrics.text  # templates only


def test_forwarded_addresses_are_not_believed_by_default(node: NodeProcess) -> None:
    """A client cannot escape the per-address limit by claiming another address."""
    statuses = []
    for index in range(REGISTRATIONS_PER_HOUR + 1):
        with httpx.Client(base_url=node.base_url, follow_redirects=False, timeout=30) as http:
            response = register(http, f"spoof{index}", {"X-Forwarded-For": f"203.0.113.{index}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) > 0 and "Trop de comptes" in response.text
    assert statuses[-1] == 429 and set(statuses) <= {303, 429}, statuses
