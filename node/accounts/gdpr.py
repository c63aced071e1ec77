"""A person's rights over their data: a full export, and deletion of the account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import delete
from sqlmodel import Session, col, select

from node.accounts import credentials, passwords
from node.accounts.models import AccountStatus, ApiToken, Role, User, UserCategory
from node.accounts.service import admin_count, user_categories
from node.catalog.statuses import ProviderStatus
from node.core.errors import N_, Conflict, ValidationFailed
from node.core.timeutil import isoformat, utcnow

EXPORT_FORMAT = "asasap-account-export/1"


class Exporter(Protocol):
    """What another capability adds to an export: its sections (proposals, bids...) for ``user``, whose
    actor is ``actor_uri``."""

    def __call__(self, user: User, actor_uri: str, *, session: Session) -> Mapping[str, Any]: ...


def export_account(
    user: User, *, session: Session, node_url: str, exporters: Sequence[Exporter] = ()
) -> dict[str, Any]:
    """Everything the node holds about ``user``, as JSON-ready data (secrets excluded): the account, and
    the sections of each of ``exporters`` (the node passes every capability's)."""
    tokens = session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": isoformat(utcnow()),
        "node": node_url,
        "account": {
            "username": user.username,
            "email": user.email,
            "role": user.role,
            "status": user.status,
            "language": user.language,
            "created_at": isoformat(user.created_at),
            "approved_at": isoformat(user.approved_at),
            "registration_note": user.registration_note,
        },
        "profile": {
            "display_name": user.display_name,
            "bio": user.bio,
            "postal_code": user.postal_code,
            "commune_insee": user.commune_insee,
            "commune_name": user.commune_name,
            "offers_services": user.offers_services,
            "requests_services": user.requests_services,
            "provider_status": user.provider_status,
            "siret": user.siret,
            "approval_number": user.approval_number,
            "categories": user_categories(user, session=session),
        },
        "api_tokens": [
            {
                "name": t.name,
                "prefix": t.prefix,
                "created_at": isoformat(t.created_at),
                "last_used_at": isoformat(t.last_used_at),
                "revoked_at": isoformat(t.revoked_at),
            }
            for t in tokens
        ],
    }
    actor_uri = node_url.rstrip("/") + f"/users/{user.username}"
    for exporter in exporters:
        data.update(exporter(user, actor_uri, session=session))
    return data


def delete_account(user: User, *, session: Session, password: str, confirm_username: str) -> None:
    """Erase ``user``'s personal data once the person re-typed their password and username.

    What stays is a tombstone: the username (never given to someone else, since other servers remember
    the actor by it) and the actor's key, which signs the ``Delete`` that tells them.
    """
    check_deletion(user, password=password, confirm_username=confirm_username, session=session)
    erase(user, session=session)


def check_deletion(user: User, *, session: Session, password: str, confirm_username: str) -> None:
    """Refuse a deletion that was not confirmed, or that would leave the node without an admin."""
    errors: dict[str, str] = {}
    if confirm_username.strip().lower() != user.username:
        errors["confirm_username"] = N_("This is not your username.")
    if not passwords.verify_password(user.password_hash, password):
        errors["password"] = N_("Wrong password.")
    if errors:
        raise ValidationFailed(N_("The account was not deleted."), fields=errors)
    if user.role == Role.ADMIN and user.is_active and admin_count(session=session) <= 1:
        raise Conflict(N_("The node needs at least one administrator: name another one first."))


def erase(user: User, *, session: Session) -> None:
    """Turn ``user`` into a tombstone: every personal field emptied, sessions, tokens and categories gone."""
    credentials.close_all_sessions(user, session=session)
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.pk))
    session.exec(delete(UserCategory).where(col(UserCategory.user_id) == user.pk))
    user.email = None
    user.password_hash = "!"  # matches no password
    user.display_name = ""
    user.bio = ""
    user.postal_code = ""
    user.commune_insee = ""
    user.commune_name = ""
    user.offers_services = False
    user.requests_services = False
    user.provider_status = ProviderStatus.NONE.value
    user.siret = None
    user.approval_number = None
    user.language = None
    user.registration_note = ""
    user.status = AccountStatus.DELETED.value
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
