"""Web Push (RFC 8030, 8291, 8292): notifications on people's phones, from the browser's push service.

- The node's VAPID key pair (P-256) is kept in the data folder (:data:`KEY_FILE`, mode 600), written by
  ``asasap init`` (:func:`create_key_file`): a new pair on a new node; on a node initialised before, the
  pair it used until then, derived from the node secret (HKDF, purpose ``vapid``), so that its browsers'
  subscriptions stay valid and no longer depend on the secret. Without the file (a node not initialised
  again since), the derived pair is used. :func:`public_key` is the ``applicationServerKey`` the page
  gives ``PushManager.subscribe``.
- A person's browser subscribes (``/push/subscriptions``); the endpoint and its keys are kept per person
  (:class:`PushSubscription`). An endpoint must be ``https`` on a public address (loopback and private
  addresses only with ``allow_private_addresses``, for tests).
- :class:`PushJob` reads the notifications recorded since its last pass (a cursor, as the e-mails do) and
  sends each subscribed person one encrypted push (aes128gcm, through ``pywebpush``) saying what happened
  and where to look, in their language; never a message's text. Push is best effort, like the push
  services themselves: a service that fails misses that notification (the site still shows it); an
  endpoint answering 404 or 410 is forgotten.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush
from sqlalchemy import Column, Engine, ForeignKey, Integer, String, delete
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.models import URI
from node.activitypub.transport.guard import forbidden_address
from node.core.db import session_scope
from node.core.errors import N_, ValidationFailed
from node.core.i18n import shipped
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow
from node.emails.notices import new_notifications
from node.market.models import Notification
from node.market.notifications import LABELS, Kind, payload
from node.settings import Settings

log = logging.getLogger("asasap.push")

CURSOR = "push"
KEY_FILE = "vapid.pem"  # in the data folder
BATCH = 200
INTERVAL_SECONDS = 5.0
SUBSCRIPTIONS_MAX = 10  # devices per person
MSG_BAD_SUBSCRIPTION = N_("This browser's push subscription cannot be used.")


class PushSubscription(SQLModel, table=True):
    """One browser of a person that receives Web Push notifications."""

    __tablename__ = "push_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    endpoint: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@lru_cache(maxsize=4)
def _private_key(secret: str) -> ec.EllipticCurvePrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=48, salt=b"asasap", info=b"vapid").derive(secret.encode())
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # of P-256
    return ec.derive_private_key(int.from_bytes(seed, "big") % (order - 1) + 1, ec.SECP256R1())


@lru_cache(maxsize=4)
def _stored_key(path: str, modified_ns: int) -> ec.EllipticCurvePrivateKey:
    """The key pair in the PEM file ``path`` (as last modified at ``modified_ns``): P-256 or ValueError."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 private key")
    return key


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def _vapid_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The node's VAPID private key: the data folder's, else derived from the secret."""
    path = key_file(settings)
    try:
        modified = path.stat().st_mtime_ns
    except FileNotFoundError:
        return _private_key(settings.effective_secret_key)
    return _stored_key(str(path), modified)


def create_key_file(settings: Settings, *, new: bool) -> bool:
    """Write the node's VAPID key pair to the data folder (mode 600) unless it is there: a new pair when
    ``new`` (a new node), else the pair derived from the secret (what the node used until now). Whether
    it was written."""
    path = key_file(settings)
    if path.exists():
        return False
    key = ec.generate_private_key(ec.SECP256R1()) if new else _private_key(settings.effective_secret_key)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return True


def key_check(settings: Settings) -> tuple[bool, str]:
    """For ``asasap doctor``: whether the VAPID key is usable, and what it is."""
    path = key_file(settings)
    if not path.exists():
        return True, "derived from the secret key (`asasap init` stores it in the data folder)"
    if path.stat().st_mode & 0o077:
        return False, f"{path} can be read by others than its owner (chmod 600 it)"
    try:
        _stored_key(str(path), path.stat().st_mtime_ns)
    except (ValueError, TypeError, OSError) as exc:
        return False, f"{path}: {exc}"
    return True, f"P-256 key pair in {path}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key(settings: Settings) -> str:
    """The node's VAPID public key, base64url (the page's ``applicationServerKey``)."""
    point = _vapid_key(settings).public_key()
    return _b64(point.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def _endpoint_problem(settings: Settings, endpoint: str) -> str | None:
    parts = urlsplit(endpoint)
    if len(endpoint) > URI or not parts.hostname or parts.username or parts.password:
        return "malformed endpoint"
    if settings.allow_private_addresses:
        return None if parts.scheme in ("http", "https") else "not http(s)"
    if parts.scheme != "https":
        return "not https"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError:
        return "unknown host"
    if any(forbidden_address(ipaddress.ip_address(str(a).partition("%")[0])) for a in addresses):
        return "private address"
    return None


def subscribe(settings: Settings, user: User, data: Any, *, session: Session) -> PushSubscription:
    """Keep the subscription ``data`` (the browser's ``PushSubscription.toJSON()``) for ``user``."""
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    keys = data.get("keys") if isinstance(data, dict) else None
    p256dh = keys.get("p256dh") if isinstance(keys, dict) else None
    auth = keys.get("auth") if isinstance(keys, dict) else None
    if not (isinstance(endpoint, str) and isinstance(p256dh, str) and isinstance(auth, str)):
        raise ValidationFailed(MSG_BAD_SUBSCRIPTION)
    try:
        valid_keys = len(_unb64(p256dh)) == 65 and 16 <= len(_unb64(auth)) <= 32
    except ValueError:
        valid_keys = False
    if not valid_keys or len(p256dh) > 200 or len(auth) > 100 or _endpoint_problem(settings, endpoint):
        raise ValidationFailed(MSG_BAD_SUBSCRIPTION)
    row = session.exec(select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)).first()
    row = row or PushSubscription(user_id=user.pk, endpoint=endpoint, p256dh=p256dh, auth=auth)
    row.user_id, row.p256dh, row.auth = user.pk, p256dh, auth
    session.add(row)
    session.flush()
    mine = session.exec(
        select(PushSubscription.id)
        .where(col(PushSubscription.user_id) == user.pk)
        .order_by(col(PushSubscription.id).desc())
    ).all()
    if len(mine) > SUBSCRIPTIONS_MAX:  # the oldest devices make room
        session.exec(delete(PushSubscription).where(col(PushSubscription.id).in_(mine[SUBSCRIPTIONS_MAX:])))
    return row


def unsubscribe(user: User, endpoint: str, *, session: Session) -> None:
    session.exec(
        delete(PushSubscription).where(
            col(PushSubscription.user_id) == user.pk, col(PushSubscription.endpoint) == endpoint
        )
    )


@dataclass(frozen=True)
class Push:
    subscription_id: int
    endpoint: str
    p256dh: str
    auth: str
    payload: str


def _message(settings: Settings, user: User, row: Notification) -> str:
    language = user.language or settings.default_language
    label = LABELS.get(Kind(row.kind), row.kind) if row.kind in Kind._value2member_map_ else row.kind
    href = payload(row).get("href")
    url = (
        href
        if isinstance(href, str) and href.startswith("/") and not href.startswith("//")
        else "/notifications"
    )
    return json.dumps(
        {"title": settings.node_name, "body": shipped().gettext(label, language), "url": url},
        ensure_ascii=False,
    )


def due_pushes(settings: Settings, *, session: Session) -> list[Push]:
    """The pushes of the notifications recorded since the last pass; moves the cursor past them."""
    rows = new_notifications(CURSOR, session=session, limit=BATCH)
    if not rows:
        return []
    users = {row.user_id for row in rows}
    subscriptions = session.exec(
        select(PushSubscription, User)
        .join(User, col(User.id) == PushSubscription.user_id)
        .where(col(PushSubscription.user_id).in_(sorted(users)), col(User.status) == AccountStatus.ACTIVE)
    ).all()
    pushes = []
    for row in rows:
        for subscription, user in subscriptions:
            if subscription.user_id == row.user_id and subscription.id is not None:
                message = _message(settings, user, row)
                pushes.append(
                    Push(
                        subscription.id,
                        subscription.endpoint,
                        subscription.p256dh,
                        subscription.auth,
                        message,
                    )
                )
    return pushes


def send(settings: Settings, push: Push) -> bool:
    """Send one push; False when the endpoint is gone for good (404, 410) and should be forgotten."""
    problem = _endpoint_problem(settings, push.endpoint)
    if problem:
        log.info("push to subscription %s not sent: %s", push.subscription_id, problem)
        return True
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(push.endpoint))
    claims: dict[str, str | int] = {
        "sub": settings.base_url if settings.is_https else f"mailto:noreply@{settings.domain.split(':')[0]}",
        "aud": origin,
        "exp": int(time.time()) + 12 * 3600,
    }
    # py_vapid wants an https URL or a mailto: with a dotted domain; a test node on http has neither.
    vapid = Vapid02(private_key=_vapid_key(settings), conf={"no-strict": not settings.is_https})
    try:
        webpush(
            {"endpoint": push.endpoint, "keys": {"p256dh": push.p256dh, "auth": push.auth}},
            data=push.payload,
            vapid_private_key=vapid,
            vapid_claims=claims,
            timeout=settings.fetch_timeout_seconds,
            ttl=24 * 3600,
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (404, 410):
            return False
        log.info("push to subscription %s failed: %s", push.subscription_id, status or type(exc).__name__)
    except OSError as exc:
        log.info("push to subscription %s failed: %s", push.subscription_id, type(exc).__name__)
    return True


class PushJob:
    """Sends the pushes of new notifications (see the module docs); ``handled``: pushes tried."""

    name = "push"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        interval: float = INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.engine = settings, engine
        self.interval, self.monotonic = interval, monotonic
        self._last: float | None = None

    async def run_once(self) -> int:
        now = self.monotonic()
        if self._last is not None and now - self._last < self.interval:
            return 0
        self._last = now
        return await anyio.to_thread.run_sync(self.run_now)

    def run_now(self) -> int:
        """One pass at once: read what is due, send it, forget the endpoints that are gone."""
        with session_scope(self.engine, write=True) as session:
            pushes = due_pushes(self.settings, session=session)
        gone = [push.subscription_id for push in pushes if not send(self.settings, push)]
        if gone:
            with session_scope(self.engine, write=True) as session:
                session.exec(delete(PushSubscription).where(col(PushSubscription.id).in_(gone)))
        return len(pushes)

    async def aclose(self) -> None:
        return None


def jobs(settings: Settings, engine: Engine) -> list[PushJob]:
    return [PushJob(settings, engine)]
