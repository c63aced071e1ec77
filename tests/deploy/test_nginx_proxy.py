"""deploy/nginx/asasap.conf in front of a real node: nginx (Debian's) runs the configuration as shipped,
only its ports, certificate (a throwaway one) and paths moved to this machine, and curl speaks to it.
TLS with HTTP/2, static files served by nginx, plain HTTP redirected, bodies over 1 MiB refused
before the node, /metrics kept private, a request id handed to the node, and the node trusting the
proxy's X-Forwarded-For, but not what a client put in it."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.http.pages.assets import STATIC_DIR
from tests.support.databases import DatabaseFactory
from tests.support.nodes import NodeProcess, free_port
from tests.support.tls import certificate
from tests.support.tools import tool

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
HOST = "services.example.org"


@pytest.fixture(scope="module")
def proxied(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[tuple[int, int, NodeProcess]]:
    nginx = tool("nginx", "nginx")
    work = tmp_path_factory.mktemp("nginx")
    tls_port, plain_port = free_port(), free_port()
    factory = database_factories["sqlite"]
    url = factory.create()
    node = NodeProcess(
        work / "node",
        url,
        extra_env={
            "ASASAP_BASE_URL": f"https://{HOST}:{tls_port}",
            "ASASAP_TRUSTED_PROXIES": "127.0.0.1",
            "ASASAP_LIMIT_REGISTRATIONS_PER_ADDRESS_HOUR": "1",
        },
    )
    cert, key = certificate(HOST)
    (work / "cert.pem").write_bytes(cert)
    (work / "key.pem").write_bytes(key)
    site = (ROOT / "deploy" / "nginx" / "asasap.conf").read_text(encoding="utf-8")
    for shipped, here in (
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{plain_port};"),
        ("listen [::]:80;", ""),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{node.port};"),
        ("alias /opt/asasap/static/;", f"alias {STATIC_DIR}/;"),
        (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(work / "cert.pem")),
        (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(work / "key.pem")),
    ):
        assert shipped in site, shipped
        site = site.replace(shipped, here)
    (work / "site.conf").write_text(site, encoding="utf-8")
    (work / "nginx.conf").write_text(
        f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {work}/body;\n  proxy_temp_path {work}/proxy;\n"
        f"  include {work}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    node.init()
    node.start()
    server = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (work / "error.log").read_text()
                time.sleep(0.1)
        yield tls_port, plain_port, node
    finally:
        server.terminate()
        server.wait(timeout=15)
        node.stop()
        factory.drop(url)


def curl(port: int, path: str, *args: str, scheme: str = "https") -> tuple[str, str]:
    """(headers, body) of a request through nginx, for ``HOST`` resolved to loopback."""
    done = subprocess.run(
        [
            tool("curl", "curl"),
            "-sk",
            "--http2",
            "-D",
            "-",
            "--resolve",
            f"{HOST}:{port}:127.0.0.1",
            *args,
            f"{scheme}://{HOST}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    headers, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    return headers.lower(), body


def test_tls_http2_static_files_and_limits(proxied: tuple[int, int, NodeProcess]) -> None:
    tls_port, plain_port, node = proxied
    headers, body = curl(tls_port, "/")
    assert headers.startswith("http/2 200") and "strict-transport-security" in headers
    assert "x-request-id: " in headers and "<html" in body  # the node answered, with nginx's id
    static, _ = curl(tls_port, "/static/site.css")
    assert static.startswith("http/2 200") and "cache-control: public" in static
    assert "x-request-id" not in static  # nginx served it alone
    assert curl(tls_port, "/metrics")[0].startswith("http/2 404")
    big = node.data_dir / "big.bin"
    big.write_bytes(b"x" * (1024 * 1024 + 10))
    assert curl(tls_port, "/register", "--data-binary", f"@{big}")[0].startswith("http/2 413")
    redirect, _ = curl(plain_port, "/login", scheme="http")
    assert redirect.startswith("http/1.1 301") and f"location: https://{HOST}/login" in redirect


def test_the_node_believes_the_proxy_not_the_client(proxied: tuple[int, int, NodeProcess]) -> None:
    """Registrations are limited by the client's real address, whatever it claims to nginx."""
    tls_port, _, node = proxied
    statuses = []
    for index in range(2):
        jar = node.data_dir / f"cookies{index}"
        page = curl(tls_port, "/register", "-c", str(jar))[1]
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        headers, _ = curl(
            tls_port,
            "/register",
            "-b",
            str(jar),
            "-H",
            f"X-Forwarded-For: 198.51.100.{index}",
            "--data",
            f"csrf_token={token}&username=proxy{index}&password=une+phrase+de+passe+solide"
            "&password_confirm=une+phrase+de+passe+solide",
        )
        statuses.append(headers.split("\n", 1)[0].strip())
    assert statuses == ["http/2 303", "http/2 429"], statuses
