"""Web Push (node/emails/push.py) to a push service on loopback that decrypts what it receives (RFC 8291,
aes128gcm, with ``http_ece``): a real encrypted notification arrives, signed with the node's VAPID key;
a gone endpoint is forgotten; bad subscriptions are refused."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from node.app import create_app
from node.core import db
from node.core.errors import ValidationFailed
from node.emails import push
from node.emails.push import PushJob, PushSubscription
from node.market.notifications import Kind, notify
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.pages import login


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class PushService:
    """A push service: keeps each request's headers and body, answers ``status``."""

    port: int = 0
    status: int = 201
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def service() -> Iterator[PushService]:
    state = PushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Browser:
    """A browser's push subscription: its keys (the private one stays here) and the endpoint."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, object]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, str]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        found: dict[str, str] = json.loads(plain)
        return found


def test_a_notification_arrives_encrypted_and_signed_then_a_gone_endpoint_is_forgotten(
    settings: Settings, engine: Engine, service: PushService
) -> None:
    settings = settings.replace(allow_private_addresses=True)
    alice = make_user(engine, "alice")
    browser = Browser(f"http://127.0.0.1:{service.port}/push/alice-phone")
    with db.session_scope(engine) as session:
        push.subscribe(settings, alice, browser.subscription(), session=session)
    job = PushJob(settings, engine, interval=0)
    assert job.run_now() == 0  # the first pass marks where pushing starts
    with db.session_scope(engine) as session:
        notify(
            alice.pk, Kind.MESSAGE, data={"href": "/conversations/1", "text": "code 4521"}, session=session
        )
    assert job.run_now() == 1
    [(headers, body)] = service.received
    assert headers["content-encoding"] == "aes128gcm" and b"Nouveau" not in body  # encrypted
    message = browser.decrypt(body)
    assert message == {"title": "Montreuil Services", "body": "Nouveau message", "url": "/conversations/1"}
    vapid = re.fullmatch(r"vapid t=([^,]+), ?k=(.+)", headers["authorization"])
    assert vapid is not None and vapid.group(2) == push.public_key(settings)
    claims = json.loads(base64.urlsafe_b64decode(vapid.group(1).split(".")[1] + "=="))
    assert claims["aud"] == f"http://127.0.0.1:{service.port}"
    service.status = 410
    with db.session_scope(engine) as session:
        notify(alice.pk, Kind.BID_RECEIVED, session=session)
    assert job.run_now() == 1
    with db.session_scope(engine) as session:
        assert session.exec(select(PushSubscription)).all() == []


def test_bad_subscriptions_are_refused(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    good = Browser("https://push.example.org/abc").subscription()
    loopback = Browser("http://127.0.0.1:9/abc").subscription()
    broken = {"endpoint": "https://push.example.org/x", "keys": {"p256dh": "short", "auth": "AAAA"}}
    bad: object
    for bad in (loopback, broken, {"endpoint": 3}, [], {**good, "endpoint": "ftp://push.example.org/a"}):
        with pytest.raises(ValidationFailed), db.session_scope(engine) as session:
            push.subscribe(settings, alice, bad, session=session)


def test_the_page_subscribes_with_its_csrf_token(settings: Settings, engine: Engine) -> None:
    settings = settings.replace(allow_private_addresses=True)
    make_user(engine, "alice")
    subscription = Browser("http://127.0.0.1:9/alice").subscription()
    with TestClient(create_app(settings, engine=engine), follow_redirects=False) as web:
        assert web.get("/push/key").json()["publicKey"] == push.public_key(settings)
        login(web, "alice")
        page = web.get("/settings/notifications")
        token = re.search(r'data-csrf="([^"]+)"', page.text)
        assert token is not None
        assert web.post("/push/subscriptions", json=subscription).status_code == 403
        headers = {"X-CSRF-Token": token.group(1)}
        assert web.post("/push/subscriptions", json=subscription, headers=headers).status_code == 201
        gone = web.post(
            "/push/subscriptions/delete", json={"endpoint": subscription["endpoint"]}, headers=headers
        )
        assert gone.status_code == 200
    with db.session_scope(engine) as session:
        assert session.exec(select(PushSubscription)).all() == []


def test_the_vapid_key_pair_is_kept_in_the_data_folder(settings: Settings) -> None:
    derived = push.public_key(settings)  # a node initialised before: the pair derived from its secret
    assert push.key_check(settings)[0] and "derived" in push.key_check(settings)[1]
    assert push.create_key_file(settings, new=False) is True  # `asasap init` again keeps that pair
    path = push.key_file(settings)
    assert oct(path.stat().st_mode)[-3:] == "600" and b"PRIVATE KEY" in path.read_bytes()
    assert push.public_key(settings) == derived
    assert push.public_key(settings.replace(secret_key="another-secret-that-is-long-enough-0123456789")) == (
        derived
    )  # no longer tied to the secret
    assert push.create_key_file(settings, new=True) is False and push.public_key(settings) == derived
    assert push.key_check(settings) == (True, f"P-256 key pair in {path}")

    fresh = settings.replace(data_dir=settings.data_dir / "fresh")
    assert push.create_key_file(fresh, new=True) is True  # a new node: a new pair
    assert push.public_key(fresh) != derived

    path.chmod(0o644)
    assert push.key_check(settings)[0] is False
    path.chmod(0o600)
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert push.key_check(settings)[0] is False
