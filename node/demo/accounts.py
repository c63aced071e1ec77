"""The demo's accounts: created on their node before it serves, all with the same password."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from node.accounts import service
from node.accounts.models import User
from node.activitypub import keys
from node.demo.specs import DemoPerson

DEMO_PASSWORD = "asasap-demo-2026"


def create_accounts(secret: str, people: Sequence[DemoPerson], *, session: Session) -> list[DemoPerson]:
    """Create the demo accounts that do not exist yet; returns the people created."""
    created = []
    for person in people:
        if session.exec(select(User.id).where(User.username == person.username)).first() is not None:
            continue
        user = service.create_user(
            username=person.username, password=DEMO_PASSWORD, role=person.role, session=session
        )
        service.update_profile(
            user,
            service.ProfileInput(
                display_name=person.display_name,
                bio=person.bio,
                postal_code=person.postal_code,
                commune_name=person.commune,
                offers_services=person.offers,
                requests_services=person.requests,
                provider_status=person.provider_status.value,
                siret=person.siret,
                categories=list(person.categories),
            ),
            session=session,
        )
        keys.ensure_key(keys.user_owner(user.id or 0), secret, user_id=user.id, session=session)
        created.append(person)
    return created
