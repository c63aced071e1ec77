"""People in tests: the one password they all use, and accounts created directly in a database."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select

from node.accounts import credentials, service
from node.accounts.models import Role, User
from node.core import db

PASSWORD = "une phrase de passe solide"


def make_user(engine: Engine, username: str, role: Role = Role.MEMBER, password: str = PASSWORD) -> User:
    """Create and commit an active account."""
    with db.session_scope(engine) as s:
        return service.create_user(username=username, password=password, role=role, session=s)


def bearer(engine: Engine, username: str) -> dict[str, str]:
    """The Authorization header of a new API token of an existing account."""
    with db.session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == username)).one()
        return {"Authorization": f"Bearer {credentials.create_api_token(user, 'tests', session=s)[1]}"}
