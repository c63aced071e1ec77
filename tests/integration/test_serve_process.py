"""A real ``asasap serve`` process, spoken to over HTTP on loopback (one node per backend for the
module: the tests do not depend on each other's traces)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.nodes import NodeProcess

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[NodeProcess]:
    process = NodeProcess(
        tmp_path_factory.mktemp("node"),
        module_database_url,
        extra_env={"ASASAP_NODE_NAME": "Bagnolet Entraide"},
    )
    process.init("--admin", "chef", "--password-stdin", stdin=PASSWORD)
    process.start()
    yield process
    process.stop()


def test_real_server_serves_pages_api_and_sessions(node: NodeProcess) -> None:
    with httpx.Client(base_url=node.base_url, follow_redirects=False, timeout=10) as http:
        home = http.get("/")
        assert home.status_code == 200 and "Bagnolet Entraide" in home.text
        assert home.headers["x-content-type-options"] == "nosniff"
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', http.get("/register").text)
        assert token
        registered = http.post(
            "/register",
            data={
                "csrf_token": token.group(1),
                "username": "amina",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
            },
        )
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
