"""Actor key pairs: RSA-2048, the private half encrypted at rest with a key derived from the node secret.

The node's own actor and every person have one current key; a rotation keeps the old row (``retired_at``)
so that signatures made just before it can still be explained in logs.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Column, ForeignKey, Integer, String, Text, text
from sqlmodel import Session, col, select

from node.core import sealing
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow

NODE_OWNER = "node"


class KeyDecryptionError(Exception):
    """A stored private key cannot be decrypted: the node secret changed or the row is damaged."""


class ActorKey(SQLModel, table=True):
    """A key pair of an actor: ``owner`` is ``node``, ``user:<id>`` or ``group:<name>``."""

    __tablename__ = "actor_keys"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    )
    public_pem: str = Field(sa_column=Column(Text, nullable=False))
    private_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


KEY_PURPOSE = "actor-key/1"


def encrypt_private_key(key: rsa.RSAPrivateKey, secret: str) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return sealing.seal(secret, KEY_PURPOSE, pem)


def decrypt_private_key(blob: str, secret: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(sealing.unseal(secret, KEY_PURPOSE, blob), password=None)
    except (sealing.UnsealError, ValueError) as exc:
        raise KeyDecryptionError("cannot decrypt the private key: was ASASAP_SECRET_KEY changed?") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyDecryptionError("the stored key is not an RSA key")
    return key


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def generate_key(owner: str, secret: str, *, session: Session, user_id: int | None = None) -> ActorKey:
    """A new current key for ``owner``; the previous one, if any, is retired."""
    for old in session.exec(
        select(ActorKey).where(ActorKey.owner == owner, col(ActorKey.retired_at).is_(None))
    ).all():
        old.retired_at = utcnow()
        session.add(old)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    row = ActorKey(
        owner=owner,
        user_id=user_id,
        public_pem=public_pem(private),
        private_encrypted=encrypt_private_key(private, secret),
    )
    session.add(row)
    session.flush()
    return row


def current_key(owner: str, *, session: Session) -> ActorKey | None:
    return session.exec(
        select(ActorKey)
        .where(ActorKey.owner == owner, col(ActorKey.retired_at).is_(None))
        .order_by(col(ActorKey.id).desc())
    ).first()


def ensure_key(owner: str, secret: str, *, session: Session, user_id: int | None = None) -> ActorKey:
    """The current key of ``owner``, created on first use.

    Two processes may need it first at once (the web serving the actor to another node that fetches it,
    the worker signing a delivery): on PostgreSQL the creation is serialised by a transaction-scoped
    advisory lock, and the second reads the key the first made rather than making another one, which
    would not match the key already served. SQLite writers are serialised by the database already."""
    found = current_key(owner, session=session)
    if found is not None:
        return found
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:owner))"), {"owner": "key:" + owner})
        found = current_key(owner, session=session)
    return found or generate_key(owner, secret, user_id=user_id, session=session)


def group_owner(name: str) -> str:
    """The key owner of the group called ``name`` (group names are never reused)."""
    return f"group:{name}"


def user_owner(user_id: int) -> str:
    return f"user:{user_id}"
