"""Password reset ("Mot de passe oublié ?"): a link sent by e-mail, used once, valid for an hour.

- :func:`request_reset` answers the same way whether the address belongs to an account or not (no
  one learns who has an account here); it is limited per client address and per e-mail address
  (``limit_password_resets_per_address_hour``), like logins.
- The link's secret is shown once, in the e-mail; only its SHA-256 is stored, with an expiry. A new
  request replaces the account's earlier links.
- :func:`reset_by_coordinator`: a coordinator (or an administrator) starts a reset for a member; the
  link goes by e-mail when the node sends e-mail and the account has an address, otherwise it is
  returned once, for the coordinator to give by hand. A coordinator cannot do this for an
  administrator or another coordinator (only an administrator can), nor for their own account.
- :func:`reset_password` checks the secret, sets the new password, uses the link up, and ends every
  login session and API token of the account (whoever knew the old password is out).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, String, delete, func
from sqlmodel import Session, col, select

from node.accounts import credentials
from node.accounts.models import AccountStatus, User, _user_fk
from node.accounts.passwords import hash_password, password_problem
from node.core import limits, mail
from node.core.errors import N_, Conflict, PermissionDenied, ValidationFailed
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow
from node.settings import Settings

VALID_FOR = timedelta(hours=1)
LIMIT = "password resets per address per hour"


class PasswordReset(SQLModel, table=True):
    """A password reset link sent by e-mail; only the SHA-256 of its secret is kept."""

    __tablename__ = "password_resets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def request_reset(settings: Settings, address: str, *, remote_addr: str | None, session: Session) -> None:
    """Send a reset link to ``address`` if an active account has it; the same silence otherwise.
    Raises :class:`~node.core.errors.Throttled` past the limit (per client and per e-mail address)."""
    address = address.strip().lower()
    if not address or "@" not in address or len(address) > 254:
        raise ValidationFailed(
            N_("Enter the e-mail address of your account."), fields={"email": N_("Required.")}
        )
    limits.hit(settings, LIMIT, f"client:{remote_addr or '-'}", session=session)
    limits.hit(settings, LIMIT, f"email:{address}", session=session)
    user = session.exec(
        select(User).where(func.lower(col(User.email)) == address, col(User.status) == AccountStatus.ACTIVE)
    ).first()
    if user is None or not user.email:
        return
    link = _new_link(settings, user, session=session)
    _send(
        settings,
        user,
        link,
        N_("Someone asked to reset the password of your account {username} on {node}."),
        session=session,
    )


def _new_link(settings: Settings, user: User, *, session: Session) -> str:
    """A new single-use link for ``user`` (their earlier links stop working); only its digest is kept."""
    session.exec(delete(PasswordReset).where(col(PasswordReset.user_id) == user.pk))
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordReset(
            user_id=user.pk, token_hash=credentials.digest(secret), created_at=now, expires_at=now + VALID_FOR
        )
    )
    return settings.url(f"/password/reset/{secret}")


def _send(settings: Settings, user: User, link: str, why: str, *, session: Session) -> None:
    assert user.email
    message = mail.letter(
        settings,
        to=user.email,
        subject=N_("Reset your password"),
        paragraphs=[
            (N_("Hello {name},"), {"name": user.name}),
            (why, {"username": user.username, "node": settings.node_name}),
            (N_("To choose a new password, open this link within an hour (it works once):"), {}),
            link,
            N_("If you did not ask for it, ignore this message: your password does not change."),
        ],
    )
    mail.enqueue(settings, message, session=session)


def reset_by_coordinator(settings: Settings, user: User, *, by: User, session: Session) -> str | None:
    """Start a reset of ``user``'s password for the coordinator ``by``: ``None`` once the link is queued
    by e-mail, else the link itself (no e-mail here or no address), to be shown once and given by hand."""
    if not by.is_coordinator:
        raise PermissionDenied(N_("Only a coordinator can reset a member's password."))
    if user.id == by.id:
        raise Conflict(N_("Change your own password in your account settings."))
    if (user.is_coordinator or user.is_admin) and not by.is_admin:
        raise PermissionDenied(N_("Only an administrator can reset the password of a coordinator."))
    if user.status != AccountStatus.ACTIVE:
        raise Conflict(N_("Only an active account's password can be reset."))
    link = _new_link(settings, user, session=session)
    if not mail.enabled(settings) or not user.email:
        return link
    _send(
        settings,
        user,
        link,
        N_("A coordinator of {node} started a reset of the password of your account {username}."),
        session=session,
    )
    return None


def usable(secret: str, *, session: Session, now: datetime | None = None) -> PasswordReset | None:
    """The unused, unexpired reset whose secret is ``secret``, or None."""
    if not secret or len(secret) > 100:
        return None
    reset = session.exec(
        select(PasswordReset).where(PasswordReset.token_hash == credentials.digest(secret))
    ).first()
    if reset is None or reset.used_at is not None or reset.expires_at <= (now or utcnow()):
        return None
    return reset


def reset_password(secret: str, new_password: str, *, session: Session) -> User:
    """Set ``new_password`` through the reset link ``secret``, use the link up, end the sessions."""
    reset = usable(secret, session=session)
    user = session.get(User, reset.user_id) if reset is not None else None
    if reset is None or user is None or user.status != AccountStatus.ACTIVE:
        raise ValidationFailed(
            N_("This link has expired or was already used. Ask for a new one."),
            fields={"password": N_("Ask for a new link.")},
        )
    problem = password_problem(new_password, username=user.username, email=user.email)
    if problem:
        raise ValidationFailed(problem, fields={"password": problem})
    user.password_hash = hash_password(new_password)
    user.updated_at = utcnow()
    reset.used_at = utcnow()
    session.add(user)
    session.add(reset)
    credentials.close_all_sessions(user, session=session)
    credentials.revoke_all_tokens(user, session=session)
    return user
