"""Secrets handed to people: API tokens, web session cookies and invitation codes.

Each is a random string shown once; only its SHA-256 is stored (they are high-entropy, so a fast hash
is enough), with a short prefix kept in clear so that people can tell their tokens apart.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from node.accounts.models import AccountStatus, ApiToken, Invite, User, WebSession
from node.core.errors import N_, NotFound, ValidationFailed
from node.core.sqlbase import table_of
from node.core.timeutil import utcnow

TOKEN_PREFIX = "asa_"
# Refresh last_used_at at most this often, to keep reads from turning into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=5)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(user: User, name: str, *, session: Session) -> tuple[ApiToken, str]:
    """A new API token for ``user``; returns the row and the secret, which is never stored."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationFailed(
            N_("Give the token a name of 1 to 80 characters."), fields={"name": N_("Required.")}
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.pk, name=name, prefix=secret[:12], token_hash=digest(secret))
    session.add(token)
    session.flush()
    return token, secret


def list_api_tokens(user: User, *, session: Session) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    ).all()


def revoke_api_token(user: User, token_id: int, *, session: Session) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(N_("No such token."))
    token.revoked_at = utcnow()
    session.add(token)
    return token


def revoke_all_tokens(user: User, *, session: Session) -> None:
    session.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


def user_for_api_token(secret: str, *, session: Session) -> User | None:
    """The active account owning the token ``secret``, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    row = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == ApiToken.user_id)
        .where(ApiToken.token_hash == digest(secret), col(ApiToken.revoked_at).is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if user.status != AccountStatus.ACTIVE:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.add(token)
    return user


def open_web_session(user: User, *, session: Session, days: int) -> str:
    """Start a login session; returns the cookie value."""
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(token_hash=digest(secret), user_id=user.pk, expires_at=utcnow() + timedelta(days=days))
    )
    session.exec(delete(WebSession).where(col(WebSession.expires_at) < utcnow()))
    return secret


@functools.cache
def _web_session_statement() -> SelectOfScalar[User]:
    """The account of a live web session (``token_hash``, unexpired at ``now``): read on every page of a
    person logged in, so built once and executed with parameters."""
    return (
        select(User)
        .join(WebSession, col(WebSession.user_id) == User.id)
        .where(
            col(WebSession.token_hash) == bindparam("token_hash"),
            col(WebSession.expires_at) > bindparam("now", type_=table_of(WebSession).c.expires_at.type),
        )
    )


def user_for_web_session(secret: str, *, session: Session) -> User | None:
    if not secret or len(secret) > 100:
        return None
    row = session.exec(
        _web_session_statement(), params={"token_hash": digest(secret), "now": utcnow()}
    ).first()
    if row is None or row.status != AccountStatus.ACTIVE:
        return None
    return row


def close_web_session(secret: str, *, session: Session) -> None:
    session.exec(delete(WebSession).where(col(WebSession.token_hash) == digest(secret)))


def close_all_sessions(user: User, *, session: Session) -> None:
    session.exec(delete(WebSession).where(col(WebSession.user_id) == user.id))


def create_invite(
    *, session: Session, by: User | None, note: str = "", valid_days: int | None = 30
) -> tuple[Invite, str]:
    """A new invitation code; returns the row and the code, which is never stored."""
    if len(note) > 200:
        raise ValidationFailed(N_("At most 200 characters."), fields={"note": N_("At most 200 characters.")})
    code = secrets.token_urlsafe(12)
    invite = Invite(
        code_hash=digest(code),
        prefix=code[:6],
        note=note.strip(),
        created_by_id=by.id if by else None,
        expires_at=utcnow() + timedelta(days=valid_days) if valid_days else None,
    )
    session.add(invite)
    session.flush()
    return invite, code


def find_usable_invite(code: str, *, session: Session) -> Invite | None:
    if not code or len(code) > 100:
        return None
    invite = session.exec(select(Invite).where(Invite.code_hash == digest(code))).first()
    if invite is None or invite.used_at is not None:
        return None
    if invite.expires_at is not None and invite.expires_at < utcnow():
        return None
    return invite


def list_invites(*, session: Session) -> Sequence[Invite]:
    return session.exec(select(Invite).order_by(col(Invite.created_at).desc()).limit(200)).all()
