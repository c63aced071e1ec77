"""Account rules: registration per node policy, login with throttling, profiles, roles, moderation.

Services take a SQLModel ``session`` and plain values, raise :mod:`node.core.errors` exceptions, and never
touch HTTP. The caller owns the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from node.accounts import credentials, passwords
from node.accounts.models import AccountStatus, ApiToken, Invite, LoginFailure, Role, User, UserCategory
from node.catalog import categories
from node.catalog.statuses import ProviderStatus
from node.core import limits
from node.core.errors import (
    N_,
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from node.core.timeutil import utcnow
from node.settings import RegistrationPolicy, Settings

USERNAME_RE = re.compile(r"^[a-z0-9_]{2,30}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
POSTAL_CODE_RE = re.compile(r"^(?:[0-8]\d|9[0-8])\d{3}$")
# Names that would clash with the node's own actor or with routes.
RESERVED_USERNAMES = frozenset(
    {"node", "actor", "instance", "api", "admin_", "static", "inbox", "outbox", "users", "root", "system"}
)


@dataclass
class ProfileInput:
    """The editable part of a profile, as typed by a person (strings are stripped by the caller)."""

    display_name: str = ""
    bio: str = ""
    postal_code: str = ""
    commune_name: str = ""
    offers_services: bool = False
    requests_services: bool = True
    provider_status: str = ProviderStatus.NONE.value
    siret: str = ""
    categories: list[str] = field(default_factory=list)
    approval_number: str | None = None  # None: left as it is (the API does not set it)


@dataclass
class RegistrationInput:
    username: str
    password: str
    email: str = ""
    invite_code: str = ""
    note: str = ""
    language: str | None = None
    address: str | None = None  # the client's address, for the registrations-per-address limit


def normalise_username(username: str) -> str:
    return username.strip().lstrip("@").lower()


def username_problem(username: str) -> str | None:
    if not USERNAME_RE.match(username):
        return N_("2 to 30 characters: lowercase letters, digits and underscores.")
    if username in RESERVED_USERNAMES:
        return N_("This username is reserved.")
    return None


APPROVAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 /.\-]{1,38}[A-Za-z0-9]")


def siret_is_valid(siret: str) -> bool:
    """SIRET: 14 digits passing the Luhn check (La Poste's establishments use a digit-sum rule)."""
    if not re.fullmatch(r"\d{14}", siret):
        return False
    if siret.startswith("356000000") and sum(int(d) for d in siret) % 5 == 0:
        return True
    total = 0
    for index, char in enumerate(reversed(siret)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _check_email(email: str, *, session: Session, exclude_user_id: int | None = None) -> dict[str, str]:
    if not email:
        return {}
    if len(email) > 254 or not EMAIL_RE.match(email):
        return {"email": N_("Enter a valid email address.")}
    query = select(User.id).where(User.email == email)
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    if session.exec(query).first() is not None:
        return {"email": N_("This email address is already used by another account.")}
    return {}


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    email: str = "",
    role: Role = Role.MEMBER,
    status: AccountStatus = AccountStatus.ACTIVE,
    note: str = "",
    language: str | None = None,
) -> User:
    """Create an account after checking every rule; raises ValidationFailed or Conflict."""
    username = normalise_username(username)
    email = email.strip().lower()
    errors: dict[str, str] = {}
    problem = username_problem(username)
    if problem:
        errors["username"] = problem
    problem = passwords.password_problem(password, username=username, email=email or None)
    if problem:
        errors["password"] = problem
    if len(note) > 500:
        errors["note"] = N_("At most 500 characters.")
    errors.update(_check_email(email, session=session))
    if language not in (None, "fr", "en"):
        language = None
    if errors:
        raise ValidationFailed(N_("Some fields need attention."), fields=errors)
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(
            N_("This username is already taken."), fields={"username": N_("This username is already taken.")}
        )
    now = utcnow()
    user = User(
        username=username,
        email=email or None,
        password_hash=passwords.hash_password(password),
        role=role.value,
        status=status.value,
        display_name="",
        registration_note=note.strip(),
        language=language,
        approved_at=now if status == AccountStatus.ACTIVE else None,
    )
    session.add(user)
    session.flush()
    return user


def register(settings: Settings, data: RegistrationInput, *, session: Session) -> User:
    """Register a person according to the node's policy: open, approval by a coordinator, or invite."""
    policy = settings.registration
    invite: Invite | None = None
    if data.address:
        limits.hit(settings, "registrations per address per hour", data.address, session=session)
    if policy == RegistrationPolicy.INVITE:
        invite = credentials.find_usable_invite(data.invite_code.strip(), session=session)
        if invite is None:
            raise ValidationFailed(
                N_("Some fields need attention."),
                fields={"invite_code": N_("This invitation code is unknown, used or expired.")},
            )
    status = AccountStatus.PENDING if policy == RegistrationPolicy.APPROVAL else AccountStatus.ACTIVE
    user = create_user(
        username=data.username,
        password=data.password,
        email=data.email,
        status=status,
        note=data.note,
        language=data.language,
        session=session,
    )
    if invite is not None:
        invite.used_by_id = user.id
        invite.used_at = utcnow()
        session.add(invite)
    return user


def _throttle_keys(username: str, remote_addr: str | None) -> dict[str, str]:
    """The keys a failed login is counted under: the account, the (account, address) pair, the address."""
    name = normalise_username(username)
    keys = {"account": f"user:{name}", "pair": f"pair:{name}|{remote_addr or '-'}"}
    if remote_addr:
        keys["address"] = f"addr:{remote_addr}"
    return keys


def _recent_failures(
    settings: Settings, keys: Iterable[str], *, session: Session
) -> dict[str, tuple[int, datetime]]:
    """Failed logins within the window under each of ``keys``: (count, first)."""
    window_start = utcnow() - timedelta(seconds=settings.login_window_seconds)
    rows = session.exec(
        select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
        .where(col(LoginFailure.key).in_(list(keys)), col(LoginFailure.at) >= window_start)
        .group_by(LoginFailure.key)
    ).all()
    return {key: (count, first) for key, count, first in rows}


def login_delay(settings: Settings, username: str, *, session: Session) -> float:
    """Seconds to wait before checking a password for ``username``: nothing until the account has
    failed as often as locks one address (``login_max_failures``, from anywhere), then 1, 2, 4...
    seconds, up to ``login_delay_max_seconds``. It slows guessing spread over many addresses without
    locking the account: the right password still logs in."""
    key = _throttle_keys(username, None)["account"]
    count = _recent_failures(settings, [key], session=session).get(key, (0, utcnow()))[0]
    free = max(settings.login_max_failures, 1)
    if count < free:
        return 0.0
    return float(min(settings.login_delay_max_seconds, 2 ** min(count - free, 16)))


def authenticate(
    settings: Settings, *, session: Session, username: str, password: str, remote_addr: str | None
) -> User:
    """The active account matching the credentials. Repeated failures lock the (account, address) pair
    and, past a higher count, the address; never the account itself, so that nobody can lock someone
    else out from elsewhere (the account gets a progressive delay instead, :func:`login_delay`)."""
    keys = _throttle_keys(username, remote_addr)
    window_start = utcnow() - timedelta(seconds=settings.login_window_seconds)
    session.exec(delete(LoginFailure).where(col(LoginFailure.at) < window_start))
    failures = _recent_failures(settings, keys.values(), session=session)
    caps = {"pair": settings.login_max_failures, "address": settings.login_address_max_failures}
    for kind, cap in caps.items():
        count, first = failures.get(keys.get(kind, ""), (0, utcnow()))
        if cap > 0 and count >= cap:
            wait = (
                int((first + timedelta(seconds=settings.login_window_seconds) - utcnow()).total_seconds()) + 1
            )
            raise Throttled(N_("Too many failed attempts. Try again later."), retry_after=max(wait, 1))
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    ok = passwords.verify_password(user.password_hash if user else passwords.DUMMY_HASH, password)
    if user is None or not ok:
        for key in keys.values():
            session.add(LoginFailure(key=key))
        # The failure must be remembered although the caller's transaction will be rolled back
        # when the error propagates: commit it here.
        session.commit()
        raise AuthenticationFailed(N_("Wrong username or password."))
    if user.status == AccountStatus.PENDING:
        raise PermissionDenied(N_("Your registration is waiting for a coordinator's approval."))
    if user.status == AccountStatus.SUSPENDED:
        raise PermissionDenied(N_("This account is suspended."))
    if user.status != AccountStatus.ACTIVE:
        raise AuthenticationFailed(N_("Wrong username or password."))
    session.exec(delete(LoginFailure).where(col(LoginFailure.key).in_([keys["account"], keys["pair"]])))
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        session.add(user)
    return user


def create_token(settings: Settings, user: User, name: str, *, session: Session) -> tuple[ApiToken, str]:
    """A new API token for ``user`` (the secret is returned once), within the node's hourly limit."""
    limits.hit(settings, "api tokens per person per hour", user.pk, session=session)
    return credentials.create_api_token(user, name, session=session)


def api_caller(settings: Settings, secret: str, *, session: Session) -> User | None:
    """The active account owning the API token ``secret`` (None when there is none), its request
    counted against the token's per-minute limit."""
    user = credentials.user_for_api_token(secret, session=session)
    if user is not None:
        limits.hit(settings, "api requests per token per minute", credentials.digest(secret), session=session)
    return user


def get_user(username: str, *, session: Session) -> User:
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    if user is None:
        raise NotFound(N_("No such account."))
    return user


def get_user_by_id(user_id: int, *, session: Session) -> User:
    """The account ``user_id``; :class:`NotFound` when there is none."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("No such account."))
    return user


def reload(user: User, *, session: Session) -> User:
    """The current row of ``user`` in this transaction (a copy read earlier may be stale)."""
    return get_user_by_id(user.pk, session=session)


def list_users(
    *,
    session: Session,
    status: AccountStatus | None = None,
    query: str = "",
    limit: int = 200,
    offset: int = 0,
) -> Sequence[User]:
    statement = select(User).order_by(col(User.created_at).desc(), col(User.id).desc())
    if status is not None:
        statement = statement.where(User.status == status.value)
    else:
        statement = statement.where(User.status != AccountStatus.DELETED.value)
    if query:
        pattern = f"%{query.strip().lower()}%"
        statement = statement.where(
            or_(col(User.username).like(pattern), func.lower(col(User.display_name)).like(pattern))
        )
    return session.exec(statement.offset(offset).limit(limit)).all()


def user_categories(user: User, *, session: Session) -> list[str]:
    rows = session.exec(select(UserCategory.category).where(UserCategory.user_id == user.id)).all()
    order = {c.slug: i for i, c in enumerate(categories.CATEGORIES)}
    return sorted(rows, key=lambda slug: order.get(slug, len(order)))


def update_profile(user: User, data: ProfileInput, *, session: Session) -> User:
    """Check and store a profile edit; nothing changes when any field is wrong."""
    errors: dict[str, str] = {}
    display_name = data.display_name.strip()
    if len(display_name) > 80:
        errors["display_name"] = N_("At most 80 characters.")
    bio = data.bio.strip().replace("\r\n", "\n")
    if len(bio) > 1000:
        errors["bio"] = N_("At most 1,000 characters.")
    postal_code = data.postal_code.strip()
    commune_name = data.commune_name.strip()
    commune_insee = ""
    if postal_code or commune_name:
        if not POSTAL_CODE_RE.match(postal_code):
            errors["postal_code"] = N_("Enter a French postal code of 5 digits.")
        else:
            commune = _resolve_commune(postal_code, commune_name)
            if commune is None:
                errors["commune_name"] = N_("No commune of that name has this postal code.")
            else:
                commune_insee, commune_name = commune
    try:
        status = ProviderStatus(data.provider_status)
    except ValueError:
        errors["provider_status"] = N_("Choose one of the statuses offered.")
        status = ProviderStatus.NONE
    siret = re.sub(r"\s", "", data.siret)
    if status == ProviderStatus.SELF_EMPLOYED:
        if not siret_is_valid(siret):
            errors["siret"] = N_("A self-employed provider needs a valid SIRET number (14 digits).")
    elif siret:
        if not siret_is_valid(siret):
            errors["siret"] = N_("This SIRET number is not valid.")
    approval = None if data.approval_number is None else " ".join(data.approval_number.split())
    if approval and not APPROVAL_RE.fullmatch(approval):
        errors["approval_number"] = N_(
            "An agrément number has 3 to 40 letters, digits, spaces, slashes, dots or dashes."
        )
    slugs = list(dict.fromkeys(s.strip() for s in data.categories if s.strip()))
    unknown = [s for s in slugs if not categories.is_category(s)]
    if unknown:
        errors["categories"] = N_("Unknown service category.")
    if slugs and not data.offers_services:
        errors["categories"] = N_("Categories are for people who offer services.")
    if errors:
        raise ValidationFailed(N_("Some fields need attention."), fields=errors)
    user.display_name = display_name
    user.bio = bio
    user.postal_code = postal_code
    user.commune_name = commune_name
    user.commune_insee = commune_insee
    user.offers_services = data.offers_services
    user.requests_services = data.requests_services
    user.provider_status = status.value
    user.siret = siret or None
    if approval is not None:
        user.approval_number = approval or None
    user.updated_at = utcnow()
    session.add(user)
    _replace_categories(user, slugs, session=session)
    return user


def _resolve_commune(postal_code: str, name: str) -> tuple[str, str] | None:
    """(INSEE code, official name) for a postal code and a typed name, from the gazetteer."""
    from node.places.gazetteer import default_gazetteer

    gazetteer = default_gazetteer()
    if name:
        commune = gazetteer.resolve(postal_code, name)
        return (commune.insee, commune.name) if commune else None
    found = gazetteer.by_postal_code(postal_code)
    if len(found) == 1:
        return found[0].insee, found[0].name
    return None


def _replace_categories(user: User, slugs: Iterable[str], *, session: Session) -> None:
    session.exec(delete(UserCategory).where(col(UserCategory.user_id) == user.id))
    for slug in slugs:
        session.add(UserCategory(user_id=user.pk, category=slug))


def change_password(user: User, *, session: Session, current: str, new: str) -> None:
    if not passwords.verify_password(user.password_hash, current):
        raise ValidationFailed(
            N_("Some fields need attention."), fields={"current_password": N_("Wrong password.")}
        )
    problem = passwords.password_problem(new, username=user.username, email=user.email)
    if problem:
        raise ValidationFailed(N_("Some fields need attention."), fields={"new_password": problem})
    user.password_hash = passwords.hash_password(new)
    user.updated_at = utcnow()
    session.add(user)
    credentials.close_all_sessions(user, session=session)


def set_language(user: User, language: str, *, session: Session) -> None:
    if language not in ("fr", "en"):
        raise ValidationFailed(N_("Unknown language."), fields={"language": N_("Unknown language.")})
    user.language = language
    session.add(user)


def admin_count(*, session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.status == "active")
    ).one()


def set_role(user: User, role: Role, *, session: Session, by: User | None = None) -> User:
    """Give ``user`` a role; only admins may, and the last active admin keeps theirs."""
    if by is not None and not by.is_admin:
        raise PermissionDenied(N_("Only an administrator can change roles."))
    if (
        user.role == Role.ADMIN
        and role != Role.ADMIN
        and user.is_active
        and admin_count(session=session) <= 1
    ):
        raise Conflict(N_("The node needs at least one administrator."))
    user.role = role.value
    user.updated_at = utcnow()
    session.add(user)
    return user


def approve(user: User, *, session: Session, by: User | None = None) -> User:
    if by is not None and not by.is_coordinator:
        raise PermissionDenied(N_("Only a coordinator can approve registrations."))
    if user.status != AccountStatus.PENDING:
        raise Conflict(N_("This registration is not waiting for approval."))
    user.status = AccountStatus.ACTIVE.value
    user.approved_at = utcnow()
    session.add(user)
    return user


def refuse(user: User, *, session: Session, by: User | None = None) -> None:
    """Refuse a pending registration: the account is removed."""
    if by is not None and not by.is_coordinator:
        raise PermissionDenied(N_("Only a coordinator can refuse registrations."))
    if user.status != AccountStatus.PENDING:
        raise Conflict(N_("This registration is not waiting for approval."))
    session.delete(user)


def suspend(user: User, *, session: Session, by: User | None = None) -> User:
    if by is not None:
        if not by.is_coordinator:
            raise PermissionDenied(N_("Only a coordinator can suspend accounts."))
        if user.id == by.id:
            raise Conflict(N_("You cannot suspend your own account."))
        if user.is_admin and not by.is_admin:
            raise PermissionDenied(N_("Only an administrator can suspend an administrator."))
    if user.is_admin and user.is_active and admin_count(session=session) <= 1:
        raise Conflict(N_("The node needs at least one administrator."))
    user.status = AccountStatus.SUSPENDED.value
    user.updated_at = utcnow()
    session.add(user)
    credentials.close_all_sessions(user, session=session)
    credentials.revoke_all_tokens(user, session=session)
    return user


def reinstate(user: User, *, session: Session, by: User | None = None) -> User:
    if by is not None and not by.is_coordinator:
        raise PermissionDenied(N_("Only a coordinator can reinstate accounts."))
    if user.status != AccountStatus.SUSPENDED:
        raise Conflict(N_("This account is not suspended."))
    user.status = AccountStatus.ACTIVE.value
    session.add(user)
    return user


def count_by_status(*, session: Session) -> dict[str, int]:
    rows = session.exec(select(User.status, func.count()).group_by(User.status)).all()
    return {status: count for status, count in rows}
